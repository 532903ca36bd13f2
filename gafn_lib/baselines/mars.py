"""MARS (Xie et al. 2021): annealed MCMC over molecular edits with a learned, adaptive proposal.

``K = n_chains`` Markov chains walk over finished molecules of the fragment MDP
(:mod:`gafn_lib.envs.fragments`, ``min_blocks ≤ n ≤ max_blocks`` blocks). At step ``t`` each chain
at molecule ``x`` proposes one edit ``x → x′`` and accepts it with probability

    A(x → x′) = min(1, (R(x′)/R(x))^{1/T_t} · q(x|x′) / q(x′|x)),

the Metropolis–Hastings rule for the target ``π_t(x) ∝ R(x)^{1/T_t}``. ``R`` is the same reward
transform of the sEH proxy as the GFlowNet's (sparse or dense); the temperature is annealed
geometrically, ``T_t = T_init · (T_final/T_init)^{min(1, t/anneal_steps)}`` (defaults 1 → 0.1 over
the run). :func:`mars_log_acceptance` is the rule on its own (in log space).

**Edits and their proposal probabilities.** The move type is drawn with fixed weights
(``move_weights``, default equal) renormalised over the types available at ``x``: *add* (``x`` has
an open stem and fewer than ``max_blocks`` blocks), *remove* (more than ``min_blocks`` blocks) and
*replace* (always, when a leaf is removable). With ``L(x)`` the removable leaves
(:meth:`FragmentMDP.removable_leaves`) and ``π_θ`` the proposal network's softmax:

- *add* block ``b`` at open stem ``k``: ``q = p_add(x) · Σ_{a ≡ (k,b)} π_θ(a|x)``, the softmax
  over all (stem, block) attachments of ``x``, summed over the actions giving the same child
  (duplicate blocks, repeated stems: :meth:`FragmentMDP.equivalent_actions`). Reverse: remove the
  new leaf, ``p_remove(x′) / |L(x′)|``.
- *remove* leaf ``j`` (uniform over ``L(x)``): ``q = p_remove(x) / |L(x)|``. Reverse: re-attach it
  from ``x′``, ``p_add(x′) · Σ_{a ∈ U} π_θ(a|x′)`` with ``U`` the attachments that rebuild ``x``
  (:meth:`FragmentMDP.remove_leaf`).
- *replace* leaf ``j`` (uniform) by block ``b`` at the stem ``σ`` it frees on the parent ``p``:
  ``q = p_replace(x) / |L(x)| · Σ_{a ≡ (σ,b)} π_θ^σ(a|p)`` with ``π_θ^σ`` the softmax restricted to
  the blocks at ``σ``. Reverse: replace the new leaf by the old block,
  ``p_replace(x′) / |L(x′)| · Σ_{a ∈ U} π_θ^σ(a|p)`` (same parent ``p``, same stem).

**Adaptive proposal.** ``π_θ`` is the GFlowNet's block-graph network
(:class:`gafn_lib.molecules.policy.BlockGraphPolicy`, same size; its stop and flow heads are unused).
Every accepted *add* or *replace* edit enters a FIFO buffer (``buffer_size``); each step, once the
buffer holds ``train_batch`` edits, one Adam step maximises ``log q_θ`` of ``train_batch`` edits
drawn uniformly from it: ``log Σ_{a≡edit} π_θ(a|x)`` (add) or ``log Σ_{a≡edit} π_θ^σ(a|p)``
(replace). The proposal therefore learns to repeat edits that were accepted.

**Budget.** Every proposed molecule is scored and counts as generated (``K`` per step, plus the
``K`` initial molecules); the metric rows are :class:`gafn_lib.molecules.tracking.MolMetricsTracker`'s.

**Simplifications against the MARS paper** (Xie et al. 2021, ICLR):

- Edits act on the fragment MDP's blocks and stems (105-block vocabulary, tree of blocks), not on
  atom-level molecular graphs with a fragment vocabulary mined from data; MARS's *delete* breaks a
  bond and keeps the larger part, here *remove* drops one leaf block. The *replace* move is our
  addition (a remove followed by an add at the same stem, accepted or rejected as one move).
- The proposal network is the GFlowNet's block-graph MPNN, not MARS's atom-level GNN with
  per-atom action heads; the choice of the leaf to remove (or replace) is uniform, not learned,
  and the move-type weights are fixed.
- One objective (the reward transform of the sEH proxy) instead of MARS's combination of several
  property scores; the target is ``R^{1/T}`` with the same reward the GFlowNets see.
- The proposal is trained on accepted edits from a FIFO buffer with one Adam step per MCMC step;
  MARS's own data selection and training schedule are not reproduced. Adapting the proposal from
  the chain's history makes the sampler a heuristic optimiser, as in MARS (no exact MCMC guarantee).
- The annealing schedule is geometric with our constants; chains start from random molecules of
  ``min_blocks`` blocks (MARS starts every chain from one small molecule).
- Proposal probabilities merge the actions the MDP treats as the same edge (duplicate blocks,
  repeated stems) but not symmetries of the rest of the molecule (as the GFlowNet's ``P_F``/``P_B``).
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from gafn_lib.molecules.scoring import score_molecules
from gafn_lib.envs.fragment_batch import encode_states, forward_masks
from gafn_lib.envs.fragments import BlockState, FragmentMDP
from gafn_lib.envs.sehproxy import SEHProxy
from gafn_lib.molecules.config import MolFields, validate_mol_fields
from gafn_lib.molecules.base import MoleculeTrainer
from gafn_lib.core.terms import NEG_INF

ADD, REMOVE, REPLACE = 0, 1, 2


def mars_log_acceptance(log_reward_current, log_reward_proposed, temperature, log_q_forward, log_q_reverse):
    """``log A = min(0, (log R(x′) − log R(x))/T + log q(x|x′) − log q(x′|x))`` (works on arrays)."""
    log_ratio = (np.asarray(log_reward_proposed, dtype=np.float64) - np.asarray(log_reward_current, dtype=np.float64)) / temperature
    log_ratio = log_ratio + np.asarray(log_q_reverse, dtype=np.float64) - np.asarray(log_q_forward, dtype=np.float64)
    return np.minimum(0.0, log_ratio)


@dataclass(frozen=True)
class MARSConfig(MolFields):
    """MARS on the fragment MDP (see the module docstring).

    Attributes:
        n_chains: parallel chains K = molecules proposed per step (16). n_steps: MCMC steps.
        temperature_init, temperature_final: annealing from ``T_init`` (1.0) to ``T_final`` (0.1).
        anneal_steps: steps of the geometric annealing (``None``: ``n_steps``), then ``T_final``.
        move_weights: weights of (add, remove, replace), renormalised over the available moves.
        lr: Adam learning rate of the proposal network (5e-4). train_batch: edits per update (32).
        buffer_size: accepted edits kept for training (FIFO, 5 000).
        min_blocks, max_blocks, reward, reward_threshold, reward_normaliser, reward_exponent,
            reward_floor, hidden, n_rounds, log_every, top_k, seed, device, threads: as
            :class:`gafn_lib.baselines.mol_ppo.MolPPOConfig`.
    """

    n_chains: int = 16
    n_steps: int = 62_500
    temperature_init: float = 1.0
    temperature_final: float = 0.1
    anneal_steps: int | None = None
    move_weights: tuple[float, float, float] = (1.0, 1.0, 1.0)
    lr: float = 5e-4
    train_batch: int = 32
    buffer_size: int = 5_000
    log_every: int = 125
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None

    def __post_init__(self) -> None:
        validate_mol_fields(self, ("n_chains", "train_batch", "buffer_size"))
        for name in ("temperature_init", "temperature_final"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"{name} must be > 0, got {value!r}")
        if self.anneal_steps is not None and (not isinstance(self.anneal_steps, int) or self.anneal_steps < 1):
            raise ValueError(f"anneal_steps must be an integer >= 1 or None, got {self.anneal_steps!r}")
        weights = tuple(self.move_weights)
        if len(weights) != 3 or any(not w >= 0 for w in weights) or weights[0] <= 0 or sum(weights) <= 0:
            raise ValueError(f"move_weights must be 3 weights >= 0 for (add, remove, replace) with add > 0, got {self.move_weights!r}")
        object.__setattr__(self, "move_weights", tuple(float(w) for w in weights))

    def temperature(self, step: int) -> float:
        """``T_t`` of the geometric annealing at step ``t`` (0-based)."""
        horizon = self.anneal_steps if self.anneal_steps is not None else self.n_steps
        frac = min(1.0, step / horizon)
        return float(self.temperature_init * (self.temperature_final / self.temperature_init) ** frac)


@dataclass
class Proposal:
    """One chain's proposed edit ``x → x′`` with both proposal log-probabilities."""

    move: int
    new_state: BlockState
    log_q_forward: float
    log_q_reverse: float
    train_state: BlockState | None  # where the edit is learned (x for add, p for replace)
    train_targets: list[int]  # action columns of the edit (equivalent actions)
    train_slots: list[int]  # restricted stem slots (replace), [] = every attachment (add)


def _plain(state: BlockState) -> list:
    return [list(state.frags), [list(j) for j in state.jbonds], [list(s) for s in state.stems]]


def _unplain(plain: Sequence) -> BlockState:
    frags, jbonds, stems = plain
    return BlockState(tuple(int(f) for f in frags), tuple(tuple(int(v) for v in j) for j in jbonds), tuple(tuple(int(v) for v in s) for s in stems))


class MARSTrainer(MoleculeTrainer):
    """MARS on molecules with the trainer protocol of :mod:`gafn_lib.registry`."""

    _components = ("policy", "optimizer", "tracker")

    def __init__(self, config: MARSConfig, proxy: SEHProxy | None = None, mdp: FragmentMDP | None = None):
        self._setup(config, proxy, mdp)
        self.n_types = self.mdp.n_block_types
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=config.lr, foreach=True)
        self.buffer: deque[tuple[BlockState, list[int], list[int]]] = deque(maxlen=config.buffer_size)
        self.n_proposed = 0
        self.n_accepted = 0
        self.chains = [self._random_molecule() for _ in range(config.n_chains)]
        smiles, scores, rewards = score_molecules(self.scorer, self.reward, self.chains)
        self.chain_scores = [float(s) for s in scores]
        self.chain_rewards = [float(r) for r in rewards]
        self.tracker.record(smiles, scores, rewards, lengths=[c.n_blocks for c in self.chains])

    def _random_molecule(self) -> BlockState:
        """Uniform random blocks at uniform open stems until ``min_blocks`` (or no stem is left)."""
        s = self.mdp.initial_state
        while s.n_blocks < self.config.min_blocks and not self.mdp.is_forced_terminal(s):
            stem = int(torch.randint(self.mdp.n_stems(s), ()))
            s = self.mdp.attach(s, stem, int(torch.randint(self.n_types, ())))
        return s

    # ------------------------------------------------------------------ proposal probabilities
    def move_probabilities(self, state: BlockState, n_leaves: int) -> np.ndarray:
        """``(p_add, p_remove, p_replace)`` at ``state``: the weights renormalised over available moves."""
        available = np.array([
            not self.mdp.is_forced_terminal(state),
            state.n_blocks > self.config.min_blocks and n_leaves > 0,
            n_leaves > 0,
        ])
        weights = np.asarray(self.config.move_weights) * available
        total = weights.sum()
        return weights / total if total > 0 else weights

    def _slot_columns(self, slots: Sequence[int], width: int) -> torch.Tensor:
        """(width,) bool: the attachment columns of the given stem slots (every column if ``slots`` is empty)."""
        cols = torch.zeros(width, dtype=torch.bool, device=self.device)
        if not slots:
            cols[1:] = True
        else:
            for k in slots:
                cols[1 + k * self.n_types : 1 + (k + 1) * self.n_types] = True
        return cols

    def _log_proposal(self, logits: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Log-softmax of one row restricted to ``valid`` columns (−inf elsewhere)."""
        return logits.masked_fill(~valid, NEG_INF).log_softmax(dim=-1)

    # ------------------------------------------------------------------ one step
    @torch.no_grad()
    def propose(self) -> list[Proposal | None]:
        """One edit per chain (``None`` if no move is available), with forward and reverse log q."""
        mdp = self.mdp
        plans = []
        for x in self.chains:
            leaves = mdp.removable_leaves(x)
            p_move = self.move_probabilities(x, len(leaves))
            if p_move.sum() == 0:
                plans.append(None)
                continue
            move = int(torch.multinomial(torch.as_tensor(p_move), 1))
            if move == ADD:
                plans.append((move, leaves, p_move, None, None, x))
            else:
                leaf = leaves[int(torch.randint(len(leaves), ()))]
                parent, undo = mdp.remove_leaf(x, leaf)
                plans.append((move, leaves, p_move, parent, undo, parent))
        net_states = list(dict.fromkeys(p[5] for p in plans if p is not None))
        if not net_states:
            return [None] * len(plans)
        mask = forward_masks(mdp, net_states, device=self.device)
        logits = self.policy(encode_states(mdp, net_states, self.device), mask).logits
        row = {s: i for i, s in enumerate(net_states)}

        proposals: list[Proposal | None] = []
        for x, plan in zip(self.chains, plans):
            if plan is None:
                proposals.append(None)
                continue
            move, leaves, p_move, parent, undo, net_state = plan
            r = row[net_state]
            width = mask.shape[1]
            if move == REMOVE:  # x′ = parent; reverse = re-attach the leaf from x′ (any action in undo)
                new_leaves = mdp.removable_leaves(parent)
                log_pi = self._log_proposal(logits[r], mask[r] & self._slot_columns([], width))
                log_rev = math.log(self.move_probabilities(parent, len(new_leaves))[ADD]) + float(torch.logsumexp(log_pi[undo], 0))
                proposals.append(Proposal(move, parent, math.log(p_move[REMOVE] / len(leaves)), log_rev, None, [], []))
                continue
            slots = [] if move == ADD else sorted({mdp.decode_action(a)[0] for a in undo})
            log_pi = self._log_proposal(logits[r], mask[r] & self._slot_columns(slots, width))
            action = int(torch.multinomial(log_pi.exp(), 1))
            base = x if move == ADD else parent
            same = mdp.equivalent_actions(base, action)
            new = mdp.step(base, action)
            new_leaves = mdp.removable_leaves(new)
            p_new = self.move_probabilities(new, len(new_leaves))
            log_fwd = math.log(p_move[move]) + float(torch.logsumexp(log_pi[same], 0))
            if move == ADD:  # reverse: remove the new (last) leaf
                log_rev = math.log(p_new[REMOVE] / len(new_leaves)) if p_new[REMOVE] > 0 else NEG_INF
            else:  # reverse: replace the new leaf by the old block, at the same stem of the same parent
                log_fwd -= math.log(len(leaves))
                log_rev = math.log(p_new[REPLACE] / len(new_leaves)) + float(torch.logsumexp(log_pi[undo], 0))
            proposals.append(Proposal(move, new, log_fwd, log_rev, base, same, slots))
        return proposals

    def train_proposal(self) -> float:
        """One Adam step on ``−log q_θ`` of ``train_batch`` accepted edits (nan if the buffer is short)."""
        cfg = self.config
        if len(self.buffer) < cfg.train_batch:
            return math.nan
        picks = torch.randint(len(self.buffer), (cfg.train_batch,)).tolist()
        edits = [self.buffer[i] for i in picks]
        states = [e[0] for e in edits]
        mask = forward_masks(self.mdp, states, device=self.device)
        logits = self.policy(encode_states(self.mdp, states, self.device), mask).logits  # (M, A)
        width = mask.shape[1]
        allowed = torch.stack([self._slot_columns(e[2], width) for e in edits]) & mask
        target = torch.zeros_like(allowed)
        for i, e in enumerate(edits):
            target[i, e[1]] = True
        log_q = torch.logsumexp(logits.masked_fill(~target, NEG_INF), 1) - torch.logsumexp(logits.masked_fill(~allowed, NEG_INF), 1)
        loss = -log_q.mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())

    def step(self) -> dict[str, float]:
        """Propose one edit per chain, score, accept or reject (MH with annealing), train the proposal."""
        start = time.perf_counter()
        temperature = self.config.temperature(self.step_count)
        proposals = self.propose()
        live = [i for i, p in enumerate(proposals) if p is not None]
        n_accepted = 0
        if live:
            smiles, scores, rewards = score_molecules(self.scorer, self.reward, [proposals[i].new_state for i in live])
            log_accept = mars_log_acceptance(
                np.log([self.chain_rewards[i] for i in live]), np.log(rewards), temperature,
                [proposals[i].log_q_forward for i in live], [proposals[i].log_q_reverse for i in live],
            )
            uniform = torch.rand(len(live), dtype=torch.float64).numpy()
            for k, i in enumerate(live):
                if np.log(uniform[k]) < log_accept[k]:
                    p = proposals[i]
                    self.chains[i] = p.new_state
                    self.chain_scores[i], self.chain_rewards[i] = float(scores[k]), float(rewards[k])
                    n_accepted += 1
                    if p.train_state is not None:
                        self.buffer.append((p.train_state, p.train_targets, p.train_slots))
            self.tracker.record(smiles, scores, rewards, lengths=[proposals[i].new_state.n_blocks for i in live])
        proposal_loss = self.train_proposal()
        self.n_proposed += len(live)
        self.n_accepted += n_accepted
        self.step_count += 1
        self.wall_seconds += time.perf_counter() - start
        self._last_info = {
            "temperature": temperature,
            "acceptance_rate": n_accepted / max(len(live), 1),
            "acceptance_rate_total": self.n_accepted / max(self.n_proposed, 1),
            "mean_chain_reward": float(np.mean(self.chain_rewards)),
            "mean_chain_score": float(np.mean(self.chain_scores)),
            "proposal_loss": proposal_loss,
            "buffer_size": len(self.buffer),
        }
        return dict(self._last_info)

    # ------------------------------------------------------------------ protocol
    def describe(self) -> str:
        return f"mols mars seed={self.config.seed}"

    def _extra_state(self) -> dict:
        return {
            "n_proposed": self.n_proposed,
            "n_accepted": self.n_accepted,
            "chains": [_plain(s) for s in self.chains],
            "chain_scores": list(self.chain_scores),
            "chain_rewards": list(self.chain_rewards),
            "buffer": [[_plain(s), list(t), list(k)] for s, t, k in self.buffer],
        }

    def _load_extra_state(self, state: dict) -> None:
        self.n_proposed = int(state["n_proposed"])
        self.n_accepted = int(state["n_accepted"])
        self.chains = [_unplain(s) for s in state["chains"]]
        self.chain_scores = [float(v) for v in state["chain_scores"]]
        self.chain_rewards = [float(v) for v in state["chain_rewards"]]
        self.buffer = deque(((_unplain(s), [int(a) for a in t], [int(k) for k in sl]) for s, t, sl in state["buffer"]), maxlen=self.config.buffer_size)
