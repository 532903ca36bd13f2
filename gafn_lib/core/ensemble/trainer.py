"""``K`` independent GFlowNet / GAFlowNet runs trained in lockstep as one batched model.

Every member has its own parameters (slices of stacked tensors), Adam state (one Adam over stacked
tensors is ``K`` elementwise-independent Adams), ``log Z``, intrinsic model, random stream (a
``torch.Generator`` seeded with the member's ``seed``: network initialisation, then the uniforms of
its trajectories), metrics tracker and :class:`History`. Members may differ in ``seed``, ``eta``,
``objective``, ``augment``, ``intrinsic``, ``subtb_lambda`` and ``uniform_pb``; every other field
(environment, network shape, learning rates, batch, steps, logging, device) must be equal
(:func:`compatibility_key`).

The solo trainer :class:`gafn_lib.core.trainer.GFlowNetTrainer` *is* this class with ``K = 1``.

One step, top to bottom:

1. each member draws its uniforms; all ``K·B`` trajectories are sampled in lockstep, without
   gradient: from tables of every member's policy on every state when the environment lists its
   states and that is cheaper (:data:`MOVE_CALL_ROWS`; a move is then a few gathers on state
   indices), else with one stacked network call per move (the run's ``sampling`` field may choose
   either; the sampling distribution is the same);
2. the policy evaluates, with gradient, ``log P_F``, ``log P_B``, ``log F`` of every state (*table
   mode*, small environments: one stacked call for all members), of the member's distinct visited
   states (*visited mode*, larger enumerable environments: each member alone, its own row count)
   or of every position of its batch (*position mode*, environments that cannot be enumerated);
   FM members also evaluate the parents of their states;
3. intrinsic rewards of the same rows: RND (targets read from a per-state cache when the
   environment lists its states; the predictor's loss is the mean over visited positions), counts,
   or a registered reward;
4. each member's objective on its own rows (:meth:`EnsembleTrainer._member_objective`:
   :func:`gafn_lib.core.augment.augment`, then :func:`gafn_lib.core.objectives.objective_loss`);
   the loss is ``Σ_k (objective_k + intrinsic_k)``, whose gradient w.r.t. member ``k``'s
   parameters is member ``k``'s own;
5. one Adam step; every ``log_every`` steps one stacked evaluation of every member on every state
   and each member's exact metrics.

**Same seed, same numbers.** A member computes bit for bit what it computes alone, whatever its
partners, their number and its position (``tests/test_batch_invariance.py``). What makes it so:
every choice of layout is the run's own (:func:`evaluation_modes`; trajectories padded to
``max_moves``; a member's rows never padded by another's); the stacked operations are those whose
result for one member does not depend on the others' (batched matmuls, gathers, row-wise
reductions, the first layer's gather-and-sum — not ``embedding_bag``, whose backward sums in an
order set by the whole batch); each member's parameters are padded to whole vectors of the fused
Adam kernel (:data:`~gafn_lib.core.ensemble.stacked.MEMBER_ALIGN`); and everything elementwise with
a transcendental function (logs, exponentials, softmax) runs on the member's own tensors, of the
shapes of its solo run, because vectorised kernels round their body and their remainder
differently.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from typing import Any, Sequence

import numpy as np
import torch

from gafn_lib.core.augment import augment
from gafn_lib.core.config import SAMPLING_MODES, TrainConfig
from gafn_lib.core.ensemble.features import Featurizer
from gafn_lib.core.ensemble.intrinsic import StackedCounts, StackedRND
from gafn_lib.core.ensemble.policy import StackedPolicy
from gafn_lib.core.ensemble.sampling import draw_uniforms, sample_ensemble, sample_from_tables, transition_table
from gafn_lib.core.ensemble.stacked import MEMBER_ALIGN
from gafn_lib.core.env import Parents, check_environment, is_enumerable
from gafn_lib.core.exact import state_graph
from gafn_lib.core.history import History
from gafn_lib.core.intrinsic import STACKED_INTRINSIC, make_intrinsic
from gafn_lib.core.ensemble.members import MemberRuns, check_member_configs
from gafn_lib.core.objectives import objective_loss
from gafn_lib.core.policies import MASKED_LOGIT
from gafn_lib.core.runtime import configure_threads, keep_freed_memory, resolve_device, seed_everything
from gafn_lib.core.sampling import Trajectories, action_probabilities
from gafn_lib.core.terms import NEG_INF, FlowMatchingTerms, TrajectoryTerms
from gafn_lib.core.tracking import make_tracker
from gafn_lib.core.validation import check_choice

#: Fields in which the members of one ensemble may differ.
MEMBER_FIELDS = ("seed", "eta", "objective", "augment", "intrinsic", "subtb_lambda", "uniform_pb")
#: A run whose environment lists at most this many states is trained in *table mode*: every step
#: evaluates the run's policy once on every state (with gradient); sampling reads its probabilities
#: from that table and the loss gathers from it (no per-move network call, no second forward).
#: Larger enumerable environments are trained in *visited mode* (the loss evaluates the run's
#: distinct visited states, alone), environments that cannot be enumerated in *position mode*
#: (every position, trajectories padded to ``max_moves``). The choice is the run's own
#: (:func:`evaluation_modes`), never its ensemble's: 2-D grids up to H = 22 (H ≤ 16 in the paper)
#: are tables. Measured on one core, 2 × 256 MLP, GAFlowNet after 60 steps, ms per step table vs
#: visited: H = 16: 8.3 vs 8.8 alone, 68 vs 63 for 12 runs; H = 32: 25–38 vs 12–13 alone, 260–270
#: vs 111–115 for 12 runs.
TABLE_MODE_MAX_STATES = 512
#: Above :data:`TABLE_MODE_MAX_STATES`, an enumerable environment still *samples* from tables when
#: that is cheaper than one network call per move: each step evaluates the policy once on every
#: state without gradient and the sampler only gathers from those tables
#: (:func:`~gafn_lib.core.ensemble.sampling.sample_from_tables`). Cost model, in units of one row
#: through the network (measured on one CPU thread, 2 × 256 MLP): a per-move network call costs
#: :data:`MOVE_CALL_ROWS` rows of overhead plus its ``B`` rows, a table lookup saves that call, and a
#: trained policy's batch runs for about ``max_moves`` moves. Tables are used when
#: ``n_states < max_moves · (MOVE_CALL_ROWS + B)`` (at ``B = 16``: every 2-D grid up to H = 128).
MOVE_CALL_ROWS = 90


def make_adam(groups: list[dict]) -> torch.optim.Adam:
    """Adam over the stacked tensors (elementwise, so ``K`` independent Adams), the fused kernel
    where this torch build has one for the device (8× faster than the per-tensor loop on CPU at
    K=12), else the default implementation."""
    try:
        return torch.optim.Adam(groups, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(groups)


def evaluation_modes(env, batch_size: int, sampling: str = "auto") -> tuple[bool, bool]:
    """``(table_mode, sampling_table)`` of a run: a function of its environment, batch size and
    ``sampling`` field only (never of the runs it shares an ensemble with, so a member computes what
    it computes alone).

    ``sampling="auto"``: *table mode* when the environment lists at most
    :data:`TABLE_MODE_MAX_STATES` states; *sampling tables* also when ``n_states < max_moves ·
    (MOVE_CALL_ROWS + B)`` (cheaper than one network call per move for one run); otherwise one
    network call per move. ``"tables"``: table mode or sampling tables (the environment must list
    its states). ``"per_move"``: one network call per move (and, for an environment that lists its
    states, the loss on the distinct visited states).

    Raises:
        ValueError: ``sampling`` is unknown, or ``"tables"`` for an environment that cannot list its
            states.
    """
    check_choice("sampling", sampling, SAMPLING_MODES)
    if not is_enumerable(env):
        if sampling == "tables":
            raise ValueError(f"sampling='tables' needs an environment that lists its states (all_states / index); "
                             f"{type(env).__name__} does not: use sampling='auto' or 'per_move'")
        return False, False
    if sampling == "per_move":
        return False, False
    table = env.n_states <= TABLE_MODE_MAX_STATES
    if sampling == "tables":
        return table, True
    return table, table or env.n_states < env.max_moves * (MOVE_CALL_ROWS + batch_size)


@dataclasses.dataclass
class _EvalPlan:
    """What one loss evaluates (see :meth:`EnsembleTrainer._plan`).

    Attributes:
        states: ``(K, N, *shape)`` the rows of every member (padded to the member with the most).
        rows: member ``k``'s own row count (the rest of its ``N`` rows are padding).
        alone: member ``k``'s row count is its own (distinct visited states, FM parents): it is
            evaluated alone, never in a call padded by another member's rows.
        row_of_pos: ``(K·B, T+1)`` the row of each position's state among its member's rows.
        row_of_parent: FM member → ``(B·T, P)`` its rows of its children's parents.
        weight: ``(K, N)`` long, visits of each row's state by real positions.
        index: ``(K, N)`` state indices (enumerable environments) or ``None``.
        reward_rows: member ``k``'s first rows that intrinsic rewards are computed on (every state
            in table mode, its positions or distinct states otherwise).
    """

    states: torch.Tensor
    rows: list[int]
    alone: list[bool]
    row_of_pos: torch.Tensor
    row_of_parent: dict[int, torch.Tensor]
    weight: torch.Tensor
    index: torch.Tensor | None
    reward_rows: list[int]


def compatibility_key(config: Any) -> str:
    """Configs with equal keys can train in one ensemble: the class and every field but
    :data:`MEMBER_FIELDS` (a JSON string)."""
    fields = {k: v for k, v in dataclasses.asdict(config).items() if k not in MEMBER_FIELDS}
    return json.dumps({"class": f"{type(config).__module__}.{type(config).__qualname__}", "fields": fields}, sort_keys=True, default=repr)


def describe_env(env) -> str:
    """How a run's history names its environment: ``repr(env)`` (e.g. ``Hypergrid(ndim=2, ...)``)."""
    return repr(env)


class _SoloPolicyAdapter:
    """Lets a solo trainer run a user's per-state module (``obs → (pf, pb, flow)``, e.g.
    :class:`gafn_lib.core.policies.TabularPolicy`) in place of the stacked network (``K = 1``)."""

    def __init__(self, module, env):
        self.module, self.env = module, env

    def __call__(self, states: torch.Tensor):
        obs = self.env.encode(states.reshape(-1, *states.shape[2:]))
        pf, pb, flow = self.module(obs)
        return pf.unsqueeze(0), pb.unsqueeze(0), flow.unsqueeze(0)

    def forward_logits(self, states: torch.Tensor) -> torch.Tensor:
        return self.module.forward_logits(self.env.encode(states.reshape(-1, *states.shape[2:]))).unsqueeze(0)


class EnsembleTrainer(MemberRuns):
    """``K`` runs trained together (see the module docstring). ``histories[k]`` is member ``k``'s
    history, row for row what a solo run of ``configs[k]`` logs.

    Example:
        >>> configs = [GridTrainConfig(height=16, seed=s, n_steps=2000) for s in range(4)]
        >>> trainer = EnsembleTrainer(configs)
        >>> histories = trainer.train()
        >>> [h.final["l1_mean_exact"] for h in histories]
    """

    def __init__(self, configs: Sequence[TrainConfig], env=None):
        configs = check_member_configs(configs, TrainConfig, "TrainConfig (or GridTrainConfig / EnvTrainConfig)",
                                       compatibility_key, MEMBER_FIELDS)
        self.configs = configs
        self.n_members = k = len(configs)
        base = configs[0]
        configure_threads(base.threads)
        keep_freed_memory()  # freed activation blocks are reused, not page-faulted in again
        self.device = resolve_device(base.device)
        self.env = base.make_env(self.device) if env is None else env
        check_environment(self.env)
        self.enumerable = is_enumerable(self.env)
        seed_everything(base.seed)  # Python / NumPy; the members' torch draws come from their own generators
        self.generators = [torch.Generator(device=self.device).manual_seed(c.seed) for c in configs]
        self.featurizer = Featurizer(self.env)
        self.policy_net = StackedPolicy(
            self.env.obs_dim, self.env.n_actions, self.env.n_backward_actions, base.hidden, base.n_layers,
            [c.uniform_pb for c in configs], self.generators, self.device,
        )
        self._custom_policy: _SoloPolicyAdapter | None = None
        self.table_mode, self.sampling_table = evaluation_modes(self.env, base.batch_size, base.sampling)
        self.last_step_rows: dict[str, int] = {}
        self._train_rows: dict[str, int] = {}
        self._pending: tuple | None = None  # table-mode outputs computed by sample(), used by the next loss()
        if self.sampling_table:
            self._graph = state_graph(self.env)
            self._child = transition_table(self._graph)
            all_states = self.env.all_states()
            self._all_states = all_states.unsqueeze(0).expand(k, *all_states.shape)
            self._all_inputs = self.featurizer(self._all_states)
            self._all_fmask = self.env.forward_mask(all_states)
            self._all_bmask = self.env.backward_mask(all_states)
            sampling_mask = self._all_fmask.clone()
            sampling_mask[:, self.env.stop_action] |= ~sampling_mask.any(dim=1)  # forced terminal: only "stop" (never taken)
            self._sampling_mask = sampling_mask.repeat(k, 1)  # (K·n_states, A): row k·n + s
        # log Z of member k is log_z_param[k, 0]; the row is padded so that fused Adam updates
        # every member's log Z alike (see gafn_lib.core.ensemble.stacked.MEMBER_ALIGN)
        if self.enumerable and not self.table_mode:  # visited mode reads each member's distinct states by index
            self._states_by_index = self.env.all_states()
        self.log_z_param = torch.nn.Parameter(torch.zeros(k, MEMBER_ALIGN, device=self.device))
        self._build_intrinsic()
        net_params = list(self.policy_net.parameters())
        if self.rnd is not None:
            net_params += list(self.rnd.predictor.parameters())
        for module in self.custom_intrinsic.values():
            net_params += [p for p in module.parameters() if p.requires_grad]
        groups = [{"params": net_params, "lr": base.lr}]
        if any(c.objective != "fm" for c in configs):  # FM has no log Z parameter: Z = Σ_a F(s_0 → a)
            groups.append({"params": [self.log_z_param], "lr": base.lr_logz})
        self.optimizer = make_adam(groups)
        self.trackers = [make_tracker(self.env) for _ in configs]
        self.histories = [History.for_config(c) for c in configs]
        for h in self.histories:
            h.config["env"] = describe_env(self.env)
        self.step_count = 0
        self.wall_seconds = 0.0
        self._last_infos: list[dict[str, float]] = [{} for _ in configs]
        self._member_rows = torch.arange(k * base.batch_size, device=self.device).view(k, base.batch_size)

    # ------------------------------------------------------------------ construction helpers
    def _build_intrinsic(self) -> None:
        configs, env = self.configs, self.env
        self.rnd_members = [i for i, c in enumerate(configs) if c.intrinsic == "rnd"]
        self.count_members = [i for i, c in enumerate(configs) if c.intrinsic == "count"]
        self.rnd = None
        if self.rnd_members:
            self.rnd = StackedRND(env.obs_dim, [configs[i].eta for i in self.rnd_members], [self.generators[i] for i in self.rnd_members], self.device)
            if self.enumerable:
                all_states = env.all_states()
                self.rnd.cache_targets(self.featurizer(all_states.unsqueeze(0).expand(len(self.rnd_members), *all_states.shape)))
        self.counts = None
        if self.count_members:
            if not self.enumerable:
                raise ValueError(f"intrinsic='count' needs an enumerable environment (n_states and index); {type(env).__name__} has none")
            self.counts = StackedCounts(env.n_states, [configs[i].eta for i in self.count_members], self.device)
        self.custom_intrinsic = {}
        for i, c in enumerate(configs):
            if c.intrinsic not in STACKED_INTRINSIC:
                torch.manual_seed(c.seed)  # a registered reward builds its networks from the global RNG
                self.custom_intrinsic[i] = make_intrinsic(c.intrinsic, env, c.eta).to(self.device)
        self._rnd_index = torch.tensor(self.rnd_members, dtype=torch.long, device=self.device)
        self._count_index = torch.tensor(self.count_members, dtype=torch.long, device=self.device)
        self._fm_members = [i for i, c in enumerate(configs) if c.objective == "fm"]

    @property
    def log_z_all(self) -> torch.Tensor:
        """Every member's ``log Z`` ``(K,)`` (a view of :attr:`log_z_param`)."""
        return self.log_z_param[:, 0]

    @property
    def config(self) -> TrainConfig:
        """The first member's config (the shared fields are every member's)."""
        return self.configs[0]

    # ------------------------------------------------------------------ networks
    def _policy(self, states: torch.Tensor, members: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``states (K, N, *shape)`` → ``(pf (K, N, A), pb (K, N, A_B), log F (K, N))``; with
        ``members``, ``states`` holds only those members' rows."""
        if self._custom_policy is not None:
            return self._custom_policy(states)
        if self.table_mode and states is self._all_states:
            return self.policy_net(self._all_inputs)
        return self.policy_net(self.featurizer(states), members)

    def _forward_logits(self, states: torch.Tensor) -> torch.Tensor:
        if self._custom_policy is not None:
            return self._custom_policy.forward_logits(states)
        if self.sampling_table and states is self._all_states and not self.table_mode:
            # the no-gradient sampling tables: member by member (each member's table stays in cache)
            with torch.no_grad():
                layers = self.policy_net.net.member_layers()
                inputs = self._all_inputs
                one = lambda m: inputs.select(torch.tensor([m], device=self.device))
                return torch.cat([self.policy_net.net.forward_member(one(m), layers[m])[..., : self.env.n_actions] for m in range(self.n_members)])
        return self.policy_net.forward_logits(self.featurizer(states))

    # ------------------------------------------------------------------ one step
    def sample(self) -> Trajectories:
        """``K·B`` trajectories (member ``k``: rows ``k·B … k·B+B−1``), each member from its own generator.

        Three paths with the same result given the same probabilities: *table mode* evaluates every
        state with gradient (the loss reuses it); *sampling tables* evaluate every state without
        gradient; otherwise one stacked network call per move (:data:`MOVE_CALL_ROWS`)."""
        c = self.config
        uniforms = draw_uniforms(self.generators, c.batch_size, self.env.max_moves + 1, self.device)
        if not self.sampling_table:
            return sample_ensemble(self.env, self._forward_logits, self.n_members, c.batch_size, uniforms, c.epsilon, c.temperature,
                                   pad_to=self.env.max_moves)
        if self.table_mode:
            outputs = self._policy(self._all_states)  # with gradient: the next loss() reads it
            self._pending = outputs
            logits = outputs[0].detach()
        else:
            with torch.no_grad():
                logits = self._forward_logits(self._all_states)
        with torch.no_grad():
            probs = action_probabilities(logits.reshape(self._sampling_mask.shape[0], -1), self._sampling_mask, c.epsilon, c.temperature)
        return sample_from_tables(self._graph, self._child, probs, self._sampling_mask, self.n_members, c.batch_size, uniforms,
                                  pad_to=self.env.max_moves)

    def _plan(self, traj: Trajectories, parents: dict[int, Parents]) -> _EvalPlan:
        """Which states the loss evaluates, in a layout that depends on each member's own batch only.

        *Table mode*: every state of the environment (``N = n_states`` rows per member, in index
        order); ``weight[k, s]`` counts member ``k``'s visits of ``s``. *Visited mode* (an
        enumerable environment too large for the table): member ``k``'s distinct visited states
        (and, for FM, its children's parents) in index order, evaluated alone. *Position mode* (an
        environment that cannot be enumerated): member ``k``'s ``B·(T+1)`` positions (``T =
        max_moves``, so the count is the same for every batch), then, for an FM member, the
        ``B·T·P_k`` parents of its children; ``weight`` is 1 on a real position.
        """
        k, batch = self.n_members, self.config.batch_size
        kb, t1 = traj.states.shape[:2]
        shape = traj.states.shape[2:]
        dev = self.device
        valid = torch.cat([torch.ones(kb, 1, dtype=torch.bool, device=dev), traj.mask], dim=1)  # (KB, T+1)
        if self.table_mode:
            n = self.env.n_states
            row_of_pos = self.env.index(traj.states.reshape(kb * t1, *shape)).view(kb, t1)
            offsets = (torch.arange(k, device=dev) * n).repeat_interleave(batch).unsqueeze(1)
            weight = torch.zeros(k * n, dtype=torch.long, device=dev)
            weight = weight.index_add_(0, (offsets + row_of_pos).reshape(-1), valid.reshape(-1).long()).view(k, n)
            row_of_parent = {}
            for member, par in parents.items():
                par_index = self.env.index(par.states.reshape(-1, *shape)).view(par.mask.shape)
                row_of_parent[member] = torch.where(par.mask, par_index, torch.zeros_like(par_index))
            index = torch.arange(n, device=dev).unsqueeze(0).expand(k, n)
            return _EvalPlan(self._all_states, [n] * k, [False] * k, row_of_pos, row_of_parent, weight, index, [n] * k)
        n_pos = batch * t1
        pos_states = traj.states.view(k, n_pos, *shape)
        candidates = []  # member k: (its positions' states, then its children's parents)
        for member in range(k):
            cand = pos_states[member]
            if member in parents:
                par = parents[member]
                child = cand.view(batch, t1, *shape)[:, 1:].reshape(-1, *shape)
                par_states = torch.where(  # placeholders → the child itself (a state that exists)
                    par.mask.view(*par.mask.shape, *([1] * len(shape))), par.states, child.unsqueeze(1).expand_as(par.states),
                )
                cand = torch.cat([cand, par_states.reshape(-1, *shape)])
            candidates.append(cand)
        if self.enumerable:  # visited mode: each member's distinct states
            uniques, inverses = [], []
            for cand in candidates:
                uniq, inverse = torch.unique(self.env.index(cand), return_inverse=True)
                uniques.append(uniq)
                inverses.append(inverse)
            rows = [u.numel() for u in uniques]
            n_max = max(rows)
            index = torch.stack([torch.cat([u, u[:1].expand(n_max - u.numel())]) for u in uniques])  # padding repeats a row
            eval_states = self._states_by_index[index]
            row_of_pos = torch.cat([inv[:n_pos].view(batch, t1) for inv in inverses])
            row_of_parent = {m: inverses[m][n_pos:].view(parents[m].mask.shape) for m in parents}
            weight = torch.zeros(k, n_max, dtype=torch.long, device=dev)
            for member, inv in enumerate(inverses):
                weight[member].index_add_(0, inv[:n_pos], valid[member * batch:(member + 1) * batch].reshape(-1).long())
            return _EvalPlan(eval_states, rows, [True] * k, row_of_pos, row_of_parent, weight, index, rows)
        rows = [c.shape[0] for c in candidates]
        n_max = max(rows)
        eval_states = pos_states if n_max == n_pos else torch.stack(
            [torch.cat([c, c[:1].expand(n_max - c.shape[0], *shape)]) for c in candidates]
        )
        row_of_pos = torch.arange(n_pos, device=dev).view(batch, t1).repeat(k, 1)
        row_of_parent = {m: n_pos + torch.arange(par.mask.numel(), device=dev).view(par.mask.shape) for m, par in parents.items()}
        weight = torch.zeros(k, n_max, dtype=torch.long, device=dev)
        weight[:, :n_pos] = valid.view(k, n_pos)
        return _EvalPlan(eval_states, rows, [m in parents for m in range(k)], row_of_pos, row_of_parent, weight, None, [n_pos] * k)

    def _intrinsic(self, plan: _EvalPlan) -> tuple[torch.Tensor, torch.Tensor]:
        """``r (K, N)`` of the plan's rows (detached; 0 beyond a member's ``reward_rows``) and each
        member's intrinsic loss ``(K,)``: the mean of its model's loss over the visited positions (a
        row weighted by its visits), reduced over the member's own rows only."""
        k, n_max = plan.weight.shape
        dev = self.device
        r = torch.zeros(k, n_max, device=dev)
        losses = [torch.zeros((), device=dev) for _ in range(k)]
        wf = plan.weight.to(torch.float32)
        if self.rnd is not None:
            errors = {}  # member → its RND errors on its reward rows (differentiable)
            together = [m for m in self.rnd_members if not plan.alone[m]]
            if together:  # every state (table mode) or every position: the same row count for each
                slots = torch.tensor([self.rnd_members.index(m) for m in together], device=dev)
                sel = torch.tensor(together, device=dev)
                n = plan.reward_rows[together[0]]
                if self.table_mode:
                    inputs = self._all_inputs.select(sel)
                else:
                    inputs = self.featurizer(plan.states.index_select(0, sel)[:, :n])
                index = None if plan.index is None else plan.index.index_select(0, sel)[:, :n]
                err = self.rnd.errors(inputs, index, slots if len(together) < len(self.rnd_members) else None)
                errors.update(zip(together, err.unbind(0)))
            alone = [m for m in self.rnd_members if plan.alone[m]]
            if alone:
                layers = self.rnd.predictor.member_layers()
                for member in alone:
                    slot, n = self.rnd_members.index(member), plan.reward_rows[member]
                    states = plan.states[member : member + 1, :n]
                    index = None if plan.index is None else plan.index[member : member + 1, :n]
                    errors[member] = self.rnd.member_errors(self.featurizer(states), index, layers[slot], slot)[0]
            self._train_rows["rnd"] = sum(e.numel() for e in errors.values())
            rows_r = []
            for member in self.rnd_members:
                err, n = errors[member], plan.reward_rows[member]
                w = wf[member, :n]
                losses[member] = (err * w).sum() / w.sum()
                rows_r.append(torch.nn.functional.pad(self.rnd.eta[self.rnd_members.index(member)] * err.detach(), (0, n_max - n)))
            r = r.index_copy(0, self._rnd_index, torch.stack(rows_r))
        if self.counts is not None:
            sel = self._count_index
            idx = plan.index.index_select(0, sel)
            self.counts.update(idx, plan.weight.index_select(0, sel))  # padding rows have weight 0
            r = r.index_copy(0, sel, self.counts.reward(idx))
        for member, module in self.custom_intrinsic.items():
            n = plan.reward_rows[member]
            obs = self.env.encode(plan.states[member, :n])
            idx_m = None if plan.index is None else plan.index[member, :n]
            # the solo formula's update sees every visited position: repeat each row by its visits
            visits = plan.weight[member, :n]
            loss = module.update(obs.repeat_interleave(visits, dim=0), None if idx_m is None else idx_m.repeat_interleave(visits))
            r[member, :n] = module.reward(obs, idx_m).detach()
            losses[member] = loss.reshape(()).to(torch.float32)
        return r, torch.stack(losses)

    def _evaluate(self, plan: _EvalPlan) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``pf (K, N, A), pb (K, N, A_B), log F (K, N)`` of the plan's rows, with gradient: the
        members whose row count is the environment's or the batch's in one stacked call, each member
        whose row count is its own alone (:attr:`_EvalPlan.alone`), so that no member's rows are
        padded by another's."""
        if self.table_mode and self._pending is not None:
            return self._pending
        k, n_max = plan.states.shape[:2]
        if not any(plan.alone):
            return self._policy(plan.states)
        outputs: list = [None] * k
        together = [m for m in range(k) if not plan.alone[m]]
        if together:
            sel = torch.tensor(together, device=self.device)
            n = plan.rows[together[0]]
            stacked = self._policy(plan.states.index_select(0, sel)[:, :n], sel if len(together) < k else None)
            for j, member in enumerate(together):
                outputs[member] = tuple(x[j] for x in stacked)
        layers = self.policy_net.net.member_layers()
        for member in range(k):
            if plan.alone[member]:
                n = plan.rows[member]
                inputs = self.featurizer(plan.states[member : member + 1, :n])
                outputs[member] = tuple(x[0] for x in self.policy_net.forward_member(inputs, layers[member], member))
        padded = []
        for j in range(3):
            padded.append(torch.stack([
                torch.nn.functional.pad(out[j], (0, 0, 0, n_max - out[j].shape[0]) if out[j].dim() == 2 else (0, n_max - out[j].shape[0]))
                for out in outputs
            ]))
        return padded[0], padded[1], padded[2]

    def loss(self, traj: Trajectories) -> tuple[torch.Tensor, list[dict[str, float]]]:
        """``Σ_k (objective_k + intrinsic_k)`` and each member's diagnostics."""
        return self._loss_all(traj)

    def _loss_all(self, traj: Trajectories) -> tuple[torch.Tensor, list[dict[str, float]]]:
        env, k, batch = self.env, self.n_members, self.config.batch_size
        kb, t1 = traj.states.shape[:2]
        shape = traj.states.shape[2:]
        dev = self.device
        parents = {}  # FM members: the parents of their children, asked of the environment member by member
        for member in self._fm_members:
            par = env.parents(traj.states[member * batch:(member + 1) * batch, 1:].reshape(-1, *shape))
            parents[member] = par if isinstance(par, Parents) else Parents(*par)
        plan = self._plan(traj, parents)
        self._train_rows = {"policy": sum(plan.rows), "rnd": 0}
        pf, pb, flow = self._evaluate(plan)
        self._pending = None
        r_rows, intrinsic_losses = self._intrinsic(plan)

        # Exact work for every member at once: integer indices, masks, gathers (copies) and the
        # row-wise log-softmax. Member k's rows of the (K·N, ·) tables are k·N …; its positions are
        # rows k·B … of the (K·B, ·) tensors.
        n = pf.shape[1]
        mask, lengths, forced = traj.mask, traj.lengths, traj.forced
        last = lengths.unsqueeze(1)
        offsets = (torch.arange(k, device=dev) * n).repeat_interleave(batch).unsqueeze(1)
        rows = plan.row_of_pos + offsets  # (KB, T+1)
        last_row = rows.gather(1, last).squeeze(1)
        stacked = {"r_pos": r_rows.reshape(-1)[rows]}
        if len(self._fm_members) < k:
            actions = traj.actions.clamp_min(0)
            flat_eval = plan.states.reshape(k * n, *shape)
            fmask = self._all_fmask if self.table_mode else env.forward_mask(flat_eval).view(k, n, -1)
            bmask = self._all_bmask if self.table_mode else env.backward_mask(flat_eval).view(k, n, -1)
            lp_f = pf.masked_fill(~fmask, MASKED_LOGIT).log_softmax(dim=-1).reshape(k * n, -1)
            lp_b = pb.masked_fill(~bmask, MASKED_LOGIT).log_softmax(dim=-1).reshape(k * n, -1)
            back = env.backward_action(traj.states[:, :-1].reshape(-1, *shape), actions.reshape(-1)).view(kb, t1 - 1)
            zeros = torch.zeros_like(mask, dtype=lp_f.dtype)
            stop = lp_f[last_row, env.stop_action]
            stacked.update(
                log_pf=torch.where(mask, lp_f.reshape(-1)[rows[:, :-1] * lp_f.shape[1] + actions], zeros),
                log_pb=torch.where(mask, lp_b.reshape(-1)[rows[:, 1:] * lp_b.shape[1] + back.clamp_min(0)], zeros),
                log_flow=flow.reshape(-1)[rows],
                log_pf_stop=torch.where(forced, torch.zeros_like(stop), stop),
            )
        # one split per tensor: a single backward node hands every member its block
        per_member = {name: value.split(batch) for name, value in stacked.items()}
        pf_of = pf.unbind(0) if self._fm_members else [None] * k
        losses = []
        for member in range(k):
            own = {name: blocks[member] for name, blocks in per_member.items()}
            losses.append(self._member_objective(member, traj, plan, parents.get(member), own, pf_of[member]))
        objective_losses = torch.stack(losses)
        total = (objective_losses + intrinsic_losses).sum()
        wf = plan.weight.to(torch.float32)
        mean_r = torch.stack([(r_rows[m, :n] * wf[m, :n]).sum() / wf[m, :n].sum() for m, n in enumerate(plan.reward_rows)])
        mean_len = lengths.view(k, batch).float().mean(dim=1)
        table = torch.stack([objective_losses.detach(), intrinsic_losses.detach(), mean_r, mean_len], dim=1).tolist()
        infos = [{"loss": a, "intrinsic_loss": b, "mean_intrinsic": c, "mean_length": d} for a, b, c, d in table]
        return total, infos

    def _member_objective(self, member: int, traj: Trajectories, plan: "_EvalPlan", parents: Parents | None,
                          own: dict[str, torch.Tensor], pf: torch.Tensor | None) -> torch.Tensor:
        """Member ``member``'s objective (a scalar). Everything elementwise with a transcendental
        function (``log r``, ``log R``, the augmentation's ``logaddexp``, the objective) runs on the
        member's own tensors with exactly the shapes of its solo run: elementwise kernels vectorise
        a tensor's body and loop over its remainder, and the two paths may round differently, so on
        tensors stacked over the members which elements fall in the remainder would depend on the
        ensemble's size. ``own`` holds the member's blocks of the exact, stacked work of
        :meth:`_loss_all`; ``pf`` its rows of the network's forward outputs (FM's edge flows)."""
        env, config, batch = self.env, self.configs[member], self.config.batch_size
        rows = slice(member * batch, (member + 1) * batch)
        mask, forced = traj.mask[rows], traj.forced[rows]
        log_r = torch.log(own["r_pos"])  # log 0 = -inf: no bonus; padding repeats x
        last = mask.sum(dim=1).unsqueeze(1)
        common = dict(
            log_reward=env.log_reward(traj.terminal[rows]),
            mask=mask,
            log_intrinsic=log_r[:, 1:].masked_fill(~mask, NEG_INF),
            log_intrinsic_terminal=log_r.gather(1, last).squeeze(1),
        )
        if config.objective != "fm":
            terms = TrajectoryTerms(log_pf=own["log_pf"], log_pb=own["log_pb"], log_flow=own["log_flow"], log_pf_stop=own["log_pf_stop"], **common)
            return objective_loss(config.objective, augment(terms, config.augment), self.log_z_param[member, 0], subtb_lambda=config.subtb_lambda)
        own_rows = plan.rows[member]
        pf = pf[:own_rows]
        fmask = self._all_fmask if self.table_mode else env.forward_mask(plan.states[member, :own_rows])
        edge = pf.masked_fill(~fmask, NEG_INF)
        row_of_pos = plan.row_of_pos[rows]
        last_row = row_of_pos.gather(1, last).squeeze(1)
        into_child = edge.reshape(-1)[plan.row_of_parent[member] * pf.shape[1] + parents.actions.clamp_min(0)]
        terms = FlowMatchingTerms(
            log_inflow=into_child.masked_fill(~parents.mask, NEG_INF).view(batch, mask.shape[1], -1),
            log_outflow=edge[row_of_pos[:, 1:]],
            log_stop_flow=torch.where(forced, torch.full_like(common["log_reward"], NEG_INF), edge[last_row, env.stop_action]),
            forced=forced,
            **common,
        )
        return objective_loss("fm", augment(terms, config.augment))

    def step(self) -> list[dict[str, float]]:
        """One training step of every member (sample → loss → Adam). Returns each member's losses."""
        return self._step_all()

    def _step_all(self) -> list[dict[str, float]]:
        start = time.perf_counter()
        traj = self.sample()
        if self.table_mode:
            sample_rows = 0  # the loss's table served sampling
        elif self.sampling_table:
            sample_rows = self.n_members * self.env.n_states
        else:
            sample_rows = self.n_members * self.config.batch_size * (traj.mask.shape[1] + 1)
        total, infos = self._loss_all(traj)
        # rows through the dense layers this step (for the benchmark's compute floor)
        self.last_step_rows = {"sample": sample_rows, **self._train_rows}
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        self.optimizer.step()
        terminal = traj.terminal
        for member, tracker in enumerate(self.trackers):
            tracker.record_terminals(terminal[self._member_rows[member]])
        self.step_count += 1
        self.wall_seconds += time.perf_counter() - start
        self._last_infos = infos
        return infos

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def forward_probabilities_all(self) -> torch.Tensor | None:
        """``P_F(·|s)`` of every member on every state, ``(K, n_states, n_actions)`` (ε and τ
        included), one stacked evaluation; ``None`` if the environment cannot enumerate."""
        if not self.enumerable:
            return None
        states = self.env.all_states()
        logits = self._forward_logits(states.unsqueeze(0).expand(self.n_members, *states.shape))
        mask = self.env.forward_mask(states)
        c = self.config
        return torch.stack([action_probabilities(logits[i], mask, c.epsilon, c.temperature) for i in range(self.n_members)])

    @torch.no_grad()
    def log_z_values(self) -> list[float]:
        """Each member's ``log Z`` (FM: ``log Σ_a F(s_0 → a)``)."""
        values = self.log_z_all.detach().tolist()
        if self._fm_members:
            s0 = self.env.reset(1)
            logits = self._forward_logits(s0.unsqueeze(0).expand(self.n_members, *s0.shape))[:, 0]
            fm_z = torch.logsumexp(logits.masked_fill(~self.env.forward_mask(s0), NEG_INF), dim=1).tolist()
            for i in self._fm_members:
                values[i] = fm_z[i]
        return values

    def evaluate_members(self) -> list[dict]:
        """One history row per member (metrics of the current state of training).

        ``wall_seconds`` is the ensemble's training time divided by ``K`` (each member's share).
        """
        probs = self.forward_probabilities_all()
        log_z = self.log_z_values()
        rows = []
        for i, tracker in enumerate(self.trackers):
            row = {"step": self.step_count}
            row.update(tracker.row(None if probs is None else probs[i]))
            row.update(log_z=log_z[i], log_z_true=tracker.log_z_true, wall_seconds=self.wall_seconds / self.n_members)
            row.update(self._last_infos[i])
            rows.append(row)
        return rows

    def artifacts_of(self, member: int, probs: torch.Tensor | None = None) -> dict[str, np.ndarray]:
        """Member ``member``'s final arrays (see :meth:`gafn_lib.core.trainer.GFlowNetTrainer.artifacts`)."""
        if not self.enumerable:
            return {}
        if probs is None:
            probs = self.forward_probabilities_all()
        return self.trackers[member].artifacts(probs[member])

    def describe(self) -> str:
        c = self.config
        where = f"H={c.height}" if hasattr(c, "height") else getattr(self.env, "name", type(self.env).__name__)
        if self.n_members == 1:
            return f"{c.objective}/{c.augment}/{c.intrinsic} {where} seed={c.seed}"
        return f"ensemble of {self.n_members} {where}"

    # ------------------------------------------------------------------ checkpointing
    def state_dict(self) -> dict:
        """Tensors and plain containers only (``torch.load(..., weights_only=True)``); resuming
        from it is bit-for-bit on CPU."""
        state = {**self._members_state(), "log_z": self.log_z_all.detach().clone()}
        if self.rnd is not None:
            state["rnd"] = self.rnd.state_dict()
        if self.counts is not None:
            state["counts"] = self.counts.state_dict()
        if self.custom_intrinsic:
            state["custom_intrinsic"] = {str(i): m.state_dict() for i, m in self.custom_intrinsic.items()}
        return state

    def load_state_dict(self, state: dict) -> None:
        self._load_members_state(state)
        with torch.no_grad():
            self.log_z_all.copy_(state["log_z"])
        if self.rnd is not None:
            self.rnd.load_state_dict(state["rnd"])
        if self.counts is not None:
            self.counts.load_state_dict(state["counts"])
        for i, m in self.custom_intrinsic.items():
            m.load_state_dict(state["custom_intrinsic"][str(i)])


def ensemble_id(run_ids: Sequence[str]) -> str:
    """A stable name for an ensemble of runs (its checkpoint file): ``ens-`` + a hash of the run ids."""
    return "ens-" + hashlib.sha256(",".join(run_ids).encode()).hexdigest()[:16]


def train_ensemble(configs: Sequence[TrainConfig], env=None, progress: bool = True) -> list[History]:
    """Train ``configs`` as one ensemble; returns one :class:`History` per config."""
    return EnsembleTrainer(configs, env=env).train(progress=progress)
