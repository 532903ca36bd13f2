"""Batched trajectory sampling in the fragment MDP and the objective terms built from one forward pass.

Sampling (no gradient): all active trajectories advance together; each iteration is ONE policy
call on the current states of the whole batch, ``(1−ε)·softmax(logits/τ) + ε·uniform(valid)``.

Training: every state of the batch (and, for FM, every parent of every visited state) is encoded
into one :class:`BlockGraphBatch` and goes through the network in ONE call (identical states are
evaluated once). From that call:

- :func:`trajectory_terms` (TB / DB / SubTB):
  ``log P_F(s_{t+1}|s_t) = log Σ_{a: T(s_t,a)=s_{t+1}} π(a|s_t)`` (duplicate blocks and repeated
  stems give several actions to the same child), ``log P_B = −log |removable leaves of s_{t+1}|``
  (uniform backward policy), ``log F(s_t)`` from the flow head, ``log P_F(stop|x)`` (0 if forced).
- :func:`flow_matching_terms` (FM): the logits are edge log-flows ``log F(s→s')``; in-flow of
  ``s_{t+1}`` sums the edge flows of every ``(parent, action)`` of :meth:`FragmentMDP.parents`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from gafn_lib.envs.fragment_batch import encode_states, equivalent_action_mask, forward_masks, log_n_removable
from gafn_lib.envs.fragments import STOP, BlockState, FragmentMDP
from gafn_lib.molecules.policy import BlockGraphPolicy, MolPolicyOutput
from gafn_lib.core.policies import masked_log_softmax
from gafn_lib.core.sampling import action_probabilities
from gafn_lib.core.terms import NEG_INF, FlowMatchingTerms, TrajectoryTerms


@dataclass
class MolTrajectories:
    """``B`` sampled trajectories: ``states[b] = [s_0, …, s_n]``, ``actions[b]`` the ``n`` moves."""

    states: list[list[BlockState]]
    actions: list[list[int]]
    forced: list[bool]

    @property
    def terminal(self) -> list[BlockState]:
        return [traj[-1] for traj in self.states]

    @property
    def lengths(self) -> list[int]:
        return [len(a) for a in self.actions]

    def mask(self, device: str | torch.device = "cpu") -> torch.Tensor:
        """(B, T) True on real moves."""
        lengths = torch.tensor(self.lengths, device=device)
        horizon = max(int(lengths.max()), 1)
        return torch.arange(horizon, device=device)[None, :] < lengths[:, None]


@torch.no_grad()
def sample_mol_trajectories(
    mdp: FragmentMDP,
    policy: BlockGraphPolicy,
    n: int,
    epsilon: float = 0.0,
    temperature: float = 1.0,
    device: str | torch.device = "cpu",
    stop_at: Sequence[int | None] | None = None,
) -> MolTrajectories:
    """Sample ``n`` complete trajectories with one policy call per iteration for the whole batch.

    ``stop_at[i]`` (the early-stop regulariser, see :func:`draw_early_stops`): trajectory ``i`` takes
    *stop* as soon as its state has ``stop_at[i]`` blocks, whatever the policy drew; ``None`` = no
    override. The override is stored as an ordinary stop (not forced).
    """
    make_cache = getattr(policy, "sampling_cache", None)
    cache = make_cache() if callable(make_cache) else None  # the release network's, for this pass

    def choose(current: list[BlockState]) -> list[int]:
        mask = forward_masks(mdp, current, device=device)
        batch = encode_states(mdp, current, device)
        out = policy(batch, mask) if cache is None else policy(batch, mask, cache=cache)
        probs = action_probabilities(out.logits, mask, epsilon, temperature)
        return torch.multinomial(probs, 1).squeeze(1).tolist()

    return roll_out(mdp, n, choose, stop_at)


def roll_out(
    mdp: FragmentMDP,
    n: int,
    choose: Callable[[list[BlockState]], list[int]],
    stop_at: Sequence[int | None] | None = None,
) -> MolTrajectories:
    """``n`` trajectories advanced together: ``choose(states)`` gives one action per unfinished
    trajectory each iteration (one batched call); ``stop_at`` overrides it with *stop* as in
    :func:`sample_mol_trajectories`. Shared by the policy sampler and random search."""
    if n < 1:
        raise ValueError(f"number of trajectories must be >= 1, got {n}")
    if stop_at is not None and len(stop_at) != n:
        raise ValueError(f"stop_at has {len(stop_at)} entries for {n} trajectories")
    states = [[mdp.initial_state] for _ in range(n)]
    actions: list[list[int]] = [[] for _ in range(n)]
    forced = [False] * n
    active = list(range(n))
    while active:
        current = [states[i][-1] for i in active]
        chosen = choose(current)
        still = []
        for i, s, a in zip(active, current, chosen):
            if stop_at is not None and stop_at[i] is not None and s.n_blocks >= stop_at[i] and mdp.can_stop(s):
                a = STOP
            if a == STOP:
                forced[i] = mdp.is_forced_terminal(s)
                continue
            actions[i].append(a)
            states[i].append(mdp.step(s, a))
            still.append(i)
        active = still
    return MolTrajectories(states, actions, forced)


def draw_early_stops(n: int, probability: float, min_blocks: int, max_blocks: int) -> list[int | None]:
    """The release's early-stop regulariser (``early_stop_reg``): each of ``n`` trajectories, with
    probability ``probability``, gets a length ``L`` uniform on ``{min_blocks, …, max_blocks}`` at which
    it stops (``None`` otherwise). Draws from torch's global generator (seeded, checkpointed)."""
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"early_stop_reg must be in [0, 1], got {probability}")
    if probability == 0.0:
        return [None] * n
    hit = (torch.rand(n, dtype=torch.float64) < probability).tolist()
    lengths = torch.randint(min_blocks, max_blocks + 1, (n,)).tolist()
    return [length if h else None for h, length in zip(hit, lengths)]


@dataclass
class BatchForward:
    """One network call over the distinct states needed by a loss.

    Attributes:
        out: network outputs over the ``R`` distinct states (logits masked to valid actions).
        mask: (R, A) valid-action mask of those states.
        row: state → its row in ``out``.
        traj_rows: (B, T+1) row of ``s_t`` (padding repeats ``x``).
    """

    out: MolPolicyOutput
    mask: torch.Tensor
    row: dict[BlockState, int]
    traj_rows: torch.Tensor


def forward_batch(
    mdp: FragmentMDP,
    policy: BlockGraphPolicy,
    trajs: MolTrajectories,
    extra_states: Sequence[BlockState] = (),
    device: str | torch.device = "cpu",
) -> BatchForward:
    """Evaluate the policy once on every distinct state of ``trajs`` plus ``extra_states``."""
    row: dict[BlockState, int] = {}
    for traj in trajs.states:
        for s in traj:
            row.setdefault(s, len(row))
    for s in extra_states:
        row.setdefault(s, len(row))
    distinct = list(row)
    mask = forward_masks(mdp, distinct, device=device)
    out = policy(encode_states(mdp, distinct, device), mask)
    horizon = max(trajs.lengths + [1])
    traj_rows = torch.tensor(
        [[row[traj[min(t, len(traj) - 1)]] for t in range(horizon + 1)] for traj in trajs.states], device=device
    )
    return BatchForward(out, mask, row, traj_rows)


def trajectory_terms(
    mdp: FragmentMDP,
    trajs: MolTrajectories,
    fwd: BatchForward,
    log_reward: torch.Tensor,
    log_intrinsic: torch.Tensor,
    log_intrinsic_terminal: torch.Tensor,
) -> TrajectoryTerms:
    """:class:`TrajectoryTerms` of the batch (un-augmented; apply :func:`gafn_lib.core.augment.augment`)."""
    device = fwd.mask.device
    mask = trajs.mask(device)
    batch, horizon = mask.shape
    log_pi = masked_log_softmax(fwd.out.logits, fwd.mask)  # (R, A)
    moves = [(b, t) for b in range(batch) for t in range(trajs.lengths[b])]
    log_pf = torch.zeros(batch, horizon, device=device)
    log_pb = torch.zeros(batch, horizon, device=device)
    if moves:
        parents = [trajs.states[b][t] for b, t in moves]
        acts = [trajs.actions[b][t] for b, t in moves]
        rows = torch.tensor([fwd.row[s] for s in parents], device=device)
        eq = equivalent_action_mask(mdp, parents, acts, log_pi.shape[1], device)
        pf = torch.logsumexp(log_pi[rows].masked_fill(~eq, NEG_INF), dim=1)
        pb = -log_n_removable(mdp, [trajs.states[b][t + 1] for b, t in moves], device)
        idx_b = torch.tensor([b for b, _ in moves], device=device)
        idx_t = torch.tensor([t for _, t in moves], device=device)
        log_pf = log_pf.index_put((idx_b, idx_t), pf)
        log_pb = log_pb.index_put((idx_b, idx_t), pb)
    x_rows = fwd.traj_rows.gather(1, torch.tensor(trajs.lengths, device=device)[:, None]).squeeze(1)
    forced = torch.tensor(trajs.forced, device=device)
    stop = log_pi[x_rows, STOP]
    return TrajectoryTerms(
        log_pf=log_pf,
        log_pb=log_pb,
        log_flow=fwd.out.log_flow[fwd.traj_rows],
        log_pf_stop=torch.where(forced, torch.zeros_like(stop), stop),
        log_reward=log_reward,
        mask=mask,
        log_intrinsic=log_intrinsic,
        log_intrinsic_terminal=log_intrinsic_terminal,
    )


def fm_parents(mdp: FragmentMDP, trajs: MolTrajectories) -> list[list[list[tuple[BlockState, int]]]]:
    """``[b][t]`` → the ``(parent, action)`` edges into ``s_{t+1}`` of trajectory ``b``."""
    return [[mdp.parents(s) for s in traj[1:]] for traj in trajs.states]


def flow_matching_terms(
    trajs: MolTrajectories,
    parents: list[list[list[tuple[BlockState, int]]]],
    fwd: BatchForward,
    log_reward: torch.Tensor,
    log_intrinsic: torch.Tensor,
    log_intrinsic_terminal: torch.Tensor,
) -> FlowMatchingTerms:
    """:class:`FlowMatchingTerms`; ``fwd`` must include every parent state (``extra_states``)."""
    device = fwd.mask.device
    mask = trajs.mask(device)
    batch, horizon = mask.shape
    logits = fwd.out.logits  # (R, A), -inf on invalid actions
    n_par = max([len(p) for per_traj in parents for p in per_traj] + [1])
    in_rows = torch.zeros(batch, horizon, n_par, dtype=torch.long, device=device)
    in_cols = torch.zeros(batch, horizon, n_par, dtype=torch.long, device=device)
    in_valid = torch.zeros(batch, horizon, n_par, dtype=torch.bool, device=device)
    for b, per_traj in enumerate(parents):
        for t, edges in enumerate(per_traj):
            for k, (p, a) in enumerate(edges):
                in_rows[b, t, k], in_cols[b, t, k], in_valid[b, t, k] = fwd.row[p], a, True
    log_inflow = logits[in_rows, in_cols].masked_fill(~in_valid, NEG_INF)
    child_rows = fwd.traj_rows[:, 1:]  # (B, T)
    log_outflow = logits[child_rows]  # (B, T, A)
    forced = torch.tensor(trajs.forced, device=device)
    lengths = torch.tensor(trajs.lengths, device=device)
    # a forced-terminal x has no stop edge: R̃(x) enters its out-flow directly
    last = torch.arange(horizon, device=device)[None, :] == (lengths - 1)[:, None]
    no_stop = last & forced[:, None]
    log_outflow = torch.cat([log_outflow[..., :1].masked_fill(no_stop[..., None], NEG_INF), log_outflow[..., 1:]], dim=2)
    x_rows = fwd.traj_rows.gather(1, lengths[:, None]).squeeze(1)
    stop_flow = logits[x_rows, STOP]
    return FlowMatchingTerms(
        log_inflow=log_inflow,
        log_outflow=log_outflow,
        log_stop_flow=torch.where(forced, torch.full_like(stop_flow, NEG_INF), stop_flow),
        forced=forced,
        log_reward=log_reward,
        mask=mask,
        log_intrinsic=log_intrinsic,
        log_intrinsic_terminal=log_intrinsic_terminal,
    )
