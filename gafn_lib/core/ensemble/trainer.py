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
   indices), else with one stacked network call per move;
2. every distinct state of a member's batch (plus, for FM members, the parents of its states) is
   evaluated once, with gradient, by the stacked policy: ``log P_F``, ``log P_B``, ``log F`` are
   gathered from there for every position of every trajectory;
3. intrinsic rewards of the same distinct states: RND (targets read from a per-state cache when the
   environment lists its states; the predictor's loss weights a state by its number of visits, i.e.
   the mean over visited positions, as in the solo formula), counts, or a registered reward;
4. :func:`gafn_lib.core.augment.augment` and each member's objective, vectorised over the members
   that share an (objective, augment) pair; the loss is ``Σ_k (objective_k + intrinsic_k)``, whose
   gradient w.r.t. member ``k``'s parameters is member ``k``'s own;
5. one Adam step; every ``log_every`` steps one stacked evaluation of every member on every state
   and each member's exact metrics.
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
from gafn_lib.core.config import TrainConfig
from gafn_lib.core.ensemble.features import Featurizer
from gafn_lib.core.ensemble.intrinsic import StackedCounts, StackedRND
from gafn_lib.core.ensemble.policy import StackedPolicy
from gafn_lib.core.ensemble.sampling import draw_uniforms, sample_ensemble, sample_from_tables, transition_table
from gafn_lib.core.ensemble.stacked import StackedInputs
from gafn_lib.core.env import Parents, check_environment, is_enumerable
from gafn_lib.core.exact import state_graph
from gafn_lib.core.history import History
from gafn_lib.core.intrinsic import make_intrinsic
from gafn_lib.core.ensemble.members import MemberRuns, check_member_configs
from gafn_lib.core.objectives import db_loss, fm_loss, subtb_loss, tb_loss
from gafn_lib.core.policies import MASKED_LOGIT
from gafn_lib.core.runtime import configure_threads, keep_freed_memory, resolve_device, seed_everything
from gafn_lib.core.sampling import Trajectories, action_probabilities
from gafn_lib.core.terms import NEG_INF, FlowMatchingTerms, TrajectoryTerms
from gafn_lib.core.tracking import make_tracker

#: Fields in which the members of one ensemble may differ.
MEMBER_FIELDS = ("seed", "eta", "objective", "augment", "intrinsic", "subtb_lambda", "uniform_pb")
#: Ensembles whose members together have at most this many states (``K · n_states``) are trained
#: in *table mode*: every step evaluates each member's policy once on every state (with gradient);
#: sampling reads its probabilities from that table and the loss gathers from it (no per-move
#: network call, no second forward). Above it, the sampler calls the network once per move and the
#: loss evaluates each member's distinct visited states. (Measured on one CPU thread, the two break
#: even near K·n_states ≈ 4096; 2048 keeps the table where it clearly pays: H=8 up to K=32, H=16 up
#: to K=8, H=32 up to K=2, never at H=64.)
TABLE_MODE_MAX_STATES = 2048
#: Above :data:`TABLE_MODE_MAX_STATES`, an enumerable environment still *samples* from tables when
#: that is cheaper than one network call per move: each step evaluates every member's policy once on
#: every state without gradient (``K·n_states`` rows) and the sampler only gathers from those tables
#: (:func:`~gafn_lib.core.ensemble.sampling.sample_from_tables`); the loss evaluates the distinct
#: visited states as before. Cost model, in units of one row through the network (measured on one
#: CPU thread, 2 × 256 MLP): a per-move network call costs :data:`MOVE_CALL_ROWS` rows of overhead
#: plus its ``K·B`` rows, a table lookup saves that call, and a trained policy's batch runs for about
#: ``max_moves`` moves. Tables are used when ``K·n_states < max_moves · (MOVE_CALL_ROWS + K·B)``:
#: H = 64 (2-D) up to K = 5, H = 128 at K = 1, H = 32 up to K = 113, H ≤ 16 at every K.
#: Calibrated with trained policies (150 steps), alternating blocks of 10 steps in one process, ms
#: per step tables vs per-move (since the numpy walk and memory reuse): H = 64: 66 vs 114 at K = 2,
#: 129 vs 177 at K = 4, 266 vs 268 at K = 8; H = 128: 71 vs 105 at K = 1, 168 vs 144 at K = 2;
#: H = 32: 166 vs 259 at K = 12, 384 vs 481 at K = 32. Break-even between 67 and 134 rows at
#: H = 64 and below 97 at H = 128.
MOVE_CALL_ROWS = 90
#: Intrinsic rewards with a stacked implementation (others run member by member).
from gafn_lib.core.intrinsic import STACKED_INTRINSIC  # noqa: E402 (derived from the intrinsic registry)


def make_adam(groups: list[dict]) -> torch.optim.Adam:
    """Adam over the stacked tensors (elementwise, so ``K`` independent Adams), the fused kernel
    where this torch build has one for the device (8× faster than the per-tensor loop on CPU at
    K=12), else the default implementation."""
    try:
        return torch.optim.Adam(groups, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(groups)


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
        self.table_mode = self.enumerable and k * self.env.n_states <= TABLE_MODE_MAX_STATES
        self.sampling_table = self.enumerable and (
            self.table_mode or k * self.env.n_states < self.env.max_moves * (MOVE_CALL_ROWS + k * base.batch_size)
        )
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
        self.log_z_all = torch.nn.Parameter(torch.zeros(k, device=self.device))
        self._build_intrinsic()
        net_params = list(self.policy_net.parameters())
        if self.rnd is not None:
            net_params += list(self.rnd.predictor.parameters())
        for module in self.custom_intrinsic.values():
            net_params += [p for p in module.parameters() if p.requires_grad]
        groups = [{"params": net_params, "lr": base.lr}]
        if any(c.objective != "fm" for c in configs):  # FM has no log Z parameter: Z = Σ_a F(s_0 → a)
            groups.append({"params": [self.log_z_all], "lr": base.lr_logz})
        self.optimizer = make_adam(groups)
        self.trackers = [make_tracker(self.env) for _ in configs]
        self.histories = [History.for_config(c) for c in configs]
        for h in self.histories:
            h.config["env"] = describe_env(self.env)
        self.step_count = 0
        self.wall_seconds = 0.0
        self._last_infos: list[dict[str, float]] = [{} for _ in configs]
        self._member_rows = torch.arange(k * base.batch_size, device=self.device).view(k, base.batch_size)
        self._groups = self._objective_groups()

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

    def _objective_groups(self) -> list[tuple[str, str, float, list[int]]]:
        groups: dict[tuple[str, str, float], list[int]] = {}
        for i, c in enumerate(self.configs):
            groups.setdefault((c.objective, c.augment, float(c.subtb_lambda) if c.objective == "subtb" else 0.0), []).append(i)
        return [(o, a, lam, members) for (o, a, lam), members in groups.items()]

    @property
    def config(self) -> TrainConfig:
        """The first member's config (the shared fields are every member's)."""
        return self.configs[0]

    # ------------------------------------------------------------------ networks
    def _policy(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``states (K, N, *shape)`` → ``(pf (K, N, A), pb (K, N, A_B), log F (K, N))``."""
        if self._custom_policy is not None:
            return self._custom_policy(states)
        if self.table_mode and states is self._all_states:
            return self.policy_net(self._all_inputs)
        return self.policy_net(self.featurizer(states))

    def _forward_logits(self, states: torch.Tensor) -> torch.Tensor:
        if self._custom_policy is not None:
            return self._custom_policy.forward_logits(states)
        if self.sampling_table and states is self._all_states:
            return self.policy_net.forward_logits(self._all_inputs)
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
            return sample_ensemble(self.env, self._forward_logits, self.n_members, c.batch_size, uniforms, c.epsilon, c.temperature)
        if self.table_mode:
            outputs = self._policy(self._all_states)  # with gradient: the next loss() reads it
            self._pending = outputs
            logits = outputs[0].detach()
        else:
            with torch.no_grad():
                logits = self._forward_logits(self._all_states)
        with torch.no_grad():
            probs = action_probabilities(logits.reshape(self._sampling_mask.shape[0], -1), self._sampling_mask, c.epsilon, c.temperature)
        return sample_from_tables(self._graph, self._child, probs, self._sampling_mask, self.n_members, c.batch_size, uniforms)

    def _plan(self, traj: Trajectories, parents: Parents | None, fm_rows: torch.Tensor | None):
        """Which states to evaluate: ``(states (K, N, *shape), row_of_pos (KB, T+1), row_of_parent
        (KB·T, P) or None, weight (K, N) visits of each row's state, index (K, N) or None)``.

        Enumerable environments: each member's distinct states (keys ``k·n_states + index``), padded
        to the member with the most; otherwise every position (and parent) as it comes.
        """
        k, batch = self.n_members, self.config.batch_size
        kb, t1 = traj.states.shape[:2]
        shape = traj.states.shape[2:]
        dev = self.device
        flat = traj.states.reshape(kb * t1, *shape)
        valid = torch.cat([torch.ones(kb, 1, dtype=torch.bool, device=dev), traj.mask], dim=1).reshape(-1)
        member_of_pos = torch.arange(k, device=dev).repeat_interleave(batch * t1)
        cand_states, cand_member, cand_weight = [flat], [member_of_pos], [valid.long()]
        if parents is not None:
            n_par = parents.mask.shape[1]
            child_flat = traj.states[fm_rows, 1:].reshape(-1, *shape)
            par_states = torch.where(
                parents.mask.view(*parents.mask.shape, *([1] * len(shape))), parents.states,
                child_flat.unsqueeze(1).expand_as(parents.states),
            ).reshape(-1, *shape)  # placeholders → the child itself (a state that exists)
            cand_states.append(par_states)
            cand_member.append((fm_rows // batch).repeat_interleave((t1 - 1) * n_par))
            cand_weight.append(torch.zeros(par_states.shape[0], dtype=torch.long, device=dev))
        states = torch.cat(cand_states)
        member = torch.cat(cand_member)
        weight = torch.cat(cand_weight)
        n_pos = kb * t1
        if self.table_mode:
            n = self.env.n_states
            rows = member * n + self.env.index(states)
            w = torch.zeros(k * n, dtype=torch.long, device=dev).index_add_(0, rows, weight).view(k, n)
            index = torch.arange(n, device=dev).unsqueeze(0).expand(k, n)
            row_of_pos = rows[:n_pos].view(kb, t1)
            row_of_parent = rows[n_pos:].view(-1, parents.mask.shape[1]) if parents is not None else None
            return self._all_states, row_of_pos, row_of_parent, w, index
        if self.enumerable:
            n = self.env.n_states
            keys = member * n + self.env.index(states)
            uniq, inverse = torch.unique(keys, return_inverse=True)
            u_member = uniq // n
            per_member = torch.bincount(u_member, minlength=k)
            n_max = int(per_member.max())
            start = torch.cumsum(per_member, 0) - per_member
            slot = torch.arange(uniq.numel(), device=dev) - start[u_member]
            table_row = u_member * n_max + slot  # row of each distinct state in the (K, N_max) table
            first = torch.full((uniq.numel(),), states.shape[0], dtype=torch.long, device=dev)
            first.scatter_reduce_(0, inverse, torch.arange(states.shape[0], device=dev), reduce="amin")
            # padding rows (members with fewer distinct states) repeat the member's first distinct state
            row_index = first[start].repeat_interleave(n_max)
            row_index[table_row] = first
            eval_states = states[row_index].view(k, n_max, *shape)
            w = torch.zeros(k * n_max, dtype=torch.long, device=dev).index_add_(0, table_row[inverse], weight).view(k, n_max)
            rows = table_row[inverse]
            index = (keys[row_index] - torch.arange(k, device=dev).repeat_interleave(n_max) * n).view(k, n_max)
            row_of_pos = rows[:n_pos].view(kb, t1)
            row_of_parent = rows[n_pos:].view(-1, parents.mask.shape[1]) if parents is not None else None
            return eval_states, row_of_pos, row_of_parent, w, index
        # not enumerable: every position of member k, then its parents
        order = torch.argsort(member, stable=True)
        per_member = torch.bincount(member, minlength=k)
        if bool((per_member != per_member[0]).any()):  # FM members only carry parents: pad the others
            n_max = int(per_member.max())
            start = torch.cumsum(per_member, 0) - per_member
            sorted_member = member[order]
            slot = torch.arange(member.numel(), device=dev) - start[sorted_member]
            rows_sorted = sorted_member * n_max + slot
            row_index = torch.zeros(k * n_max, dtype=torch.long, device=dev)
            row_index.index_copy_(0, rows_sorted, order)
        else:
            n_max = int(per_member[0])
            rows_sorted = torch.arange(member.numel(), device=dev)
            row_index = order
        rows = torch.empty_like(rows_sorted)
        rows[order] = rows_sorted
        eval_states = states[row_index].view(k, n_max, *shape)
        w = torch.zeros(k * n_max, dtype=torch.long, device=dev).index_add_(0, rows, weight).view(k, n_max)
        row_of_pos = rows[:n_pos].view(kb, t1)
        row_of_parent = rows[n_pos:].view(-1, parents.mask.shape[1]) if parents is not None else None
        return eval_states, row_of_pos, row_of_parent, w, None

    def _intrinsic(self, eval_states, weight, index):
        """``r (K, N)`` per evaluated row (detached) and each member's intrinsic loss ``(K,)``."""
        k, n = weight.shape
        dev = self.device
        r = torch.zeros(k, n, device=dev)
        losses = torch.zeros(k, device=dev)
        wf = weight.to(torch.float32)
        if self.rnd is not None:
            sel = self._rnd_index
            w_sel = wf.index_select(0, sel)
            if self.table_mode:
                # only the visited states of each RND member (RND on unvisited states is never read)
                visited = w_sel > 0
                n_max = int(visited.sum(dim=1).max())
                rows = torch.argsort((~visited).to(torch.uint8), dim=1, stable=True)[:, :n_max]  # visited first
                w_rows = w_sel.gather(1, rows)
                states_sel = eval_states.index_select(0, sel)
                picked = states_sel.gather(1, rows.view(*rows.shape, *([1] * (states_sel.dim() - 2))).expand(*rows.shape, *states_sel.shape[2:]))
                err = self.rnd.errors(self.featurizer(picked), index.index_select(0, sel).gather(1, rows))
                self._train_rows["rnd"] = err.numel()
                r_sel = torch.zeros(len(self.rnd_members), n, device=dev).scatter(1, rows, self.rnd.eta * err.detach() * (w_rows > 0))
                r = r.index_copy(0, sel, r_sel)
                losses = losses.index_add(0, sel, (err * w_rows).sum(dim=1) / w_rows.sum(dim=1))
            else:
                inputs = self.featurizer(eval_states.index_select(0, sel))
                err = self.rnd.errors(inputs, None if index is None else index.index_select(0, sel))
                self._train_rows["rnd"] = err.numel()
                r = r.index_copy(0, sel, self.rnd.eta * err.detach())
                losses = losses.index_add(0, sel, (err * w_sel).sum(dim=1) / w_sel.sum(dim=1))
        if self.counts is not None:
            sel = self._count_index
            idx = index.index_select(0, sel)
            self.counts.update(idx, weight.index_select(0, sel))
            r = r.index_copy(0, sel, self.counts.reward(idx))
        for member, module in self.custom_intrinsic.items():
            obs = self.env.encode(eval_states[member])
            idx_m = None if index is None else index[member]
            # the solo formula's update sees every visited position: repeat each distinct state by its visits
            visits = weight[member]
            loss = module.update(obs.repeat_interleave(visits, dim=0), None if idx_m is None else idx_m.repeat_interleave(visits))
            r[member] = module.reward(obs, idx_m).detach()
            losses = losses.index_add(0, torch.tensor([member], device=dev), loss.reshape(1).to(losses.dtype))
        return r, losses

    def loss(self, traj: Trajectories) -> tuple[torch.Tensor, list[dict[str, float]]]:
        """``Σ_k (objective_k + intrinsic_k)`` and each member's diagnostics."""
        return self._loss_all(traj)

    def _loss_all(self, traj: Trajectories) -> tuple[torch.Tensor, list[dict[str, float]]]:
        env, k, batch = self.env, self.n_members, self.config.batch_size
        kb, t1 = traj.states.shape[:2]
        horizon = t1 - 1
        shape = traj.states.shape[2:]
        dev = self.device
        lengths, mask = traj.lengths, traj.mask

        parents = fm_rows = None
        if self._fm_members:
            fm_rows = self._member_rows[self._fm_members].reshape(-1)
            parents = env.parents(traj.states[fm_rows, 1:].reshape(-1, *shape))
            parents = parents if isinstance(parents, Parents) else Parents(*parents)
        eval_states, row_of_pos, row_of_parent, weight, index = self._plan(traj, parents, fm_rows)
        n = eval_states.shape[1]
        flat_eval = eval_states.reshape(k * n, *shape)
        self._train_rows = {"policy": k * n, "rnd": 0}
        if self.table_mode and self._pending is not None:
            pf, pb, flow = self._pending
        else:
            pf, pb, flow = self._policy(eval_states)
        self._pending = None
        pf, pb, flow = pf.reshape(k * n, -1), pb.reshape(k * n, -1), flow.reshape(k * n)
        fmask = self._all_fmask.repeat(k, 1) if self.table_mode else env.forward_mask(flat_eval)
        r_rows, intrinsic_losses = self._intrinsic(eval_states, weight, index)
        r_pos = r_rows.reshape(-1)[row_of_pos]  # (KB, T+1); padding repeats x
        log_r = torch.log(r_pos)  # log 0 = -inf: no bonus
        log_reward = env.log_reward(traj.terminal)
        log_intrinsic = log_r[:, 1:].masked_fill(~mask, NEG_INF)
        log_intrinsic_terminal = log_r.gather(1, lengths.unsqueeze(1)).squeeze(1)
        actions = traj.actions.clamp_min(0)
        last_row = row_of_pos.gather(1, lengths.unsqueeze(1)).squeeze(1)
        n_actions = pf.shape[1]

        need_trajectory_terms = any(o != "fm" for o, _, _, _ in self._groups)
        if need_trajectory_terms:
            lp_f = pf.masked_fill(~fmask, MASKED_LOGIT).log_softmax(dim=-1)
            bmask = self._all_bmask.repeat(k, 1) if self.table_mode else env.backward_mask(flat_eval)
            lp_b = pb.masked_fill(~bmask, MASKED_LOGIT).log_softmax(dim=-1)
            back = env.backward_action(traj.states[:, :-1].reshape(kb * horizon, *shape), actions.reshape(-1)).view(kb, horizon)
            zeros = torch.zeros(kb, horizon, device=dev, dtype=lp_f.dtype)
            log_pf = torch.where(mask, lp_f.reshape(-1)[row_of_pos[:, :-1] * n_actions + actions], zeros)
            log_pb = torch.where(mask, lp_b.reshape(-1)[row_of_pos[:, 1:] * lp_b.shape[1] + back.clamp_min(0)], zeros)
            stop = lp_f[last_row, env.stop_action]
            log_flow = flow[row_of_pos]
            log_pf_stop = torch.where(traj.forced, torch.zeros_like(stop), stop)

        objective_losses = torch.zeros(k, device=dev)
        for objective, mode, lam, members in self._groups:
            m = len(members)
            sel = self._member_rows[members].reshape(-1) if m < k else None
            pick = (lambda x: x) if sel is None else (lambda x: x.index_select(0, sel))
            common = dict(
                log_reward=pick(log_reward), mask=pick(mask), log_intrinsic=pick(log_intrinsic),
                log_intrinsic_terminal=pick(log_intrinsic_terminal),
            )
            if objective == "fm":
                edge = pf.masked_fill(~fmask, NEG_INF)
                # parents of the FM members' children, in the order of fm_rows
                fm_pos = {mem: j for j, mem in enumerate(self._fm_members)}
                blocks = torch.tensor([fm_pos[mem] for mem in members], device=dev)
                n_par = row_of_parent.shape[1]
                par_rows = row_of_parent.view(len(self._fm_members), batch * horizon, n_par).index_select(0, blocks).view(-1, n_par)
                par_act = parents.actions.view(len(self._fm_members), batch * horizon, n_par).index_select(0, blocks).view(-1, n_par)
                par_mask = parents.mask.view(len(self._fm_members), batch * horizon, n_par).index_select(0, blocks).view(-1, n_par)
                into_child = edge.reshape(-1)[par_rows * n_actions + par_act.clamp_min(0)]
                log_inflow = into_child.masked_fill(~par_mask, NEG_INF).view(m * batch, horizon, n_par)
                rows_g = pick(row_of_pos)
                last = edge[pick(last_row)]
                terms = FlowMatchingTerms(
                    log_inflow=log_inflow,
                    log_outflow=edge[rows_g[:, 1:]],
                    log_stop_flow=torch.where(pick(traj.forced), torch.full_like(common["log_reward"], NEG_INF), last[:, env.stop_action]),
                    forced=pick(traj.forced),
                    **common,
                )
                losses_g = fm_loss(augment(terms, mode), members=m)
            else:
                terms = augment(
                    TrajectoryTerms(log_pf=pick(log_pf), log_pb=pick(log_pb), log_flow=pick(log_flow), log_pf_stop=pick(log_pf_stop), **common),
                    mode,
                )
                member_index = torch.tensor(members, device=dev)
                log_z = self.log_z_all.index_select(0, member_index).repeat_interleave(batch)
                if objective == "tb":
                    losses_g = tb_loss(terms, log_z, members=m)
                elif objective == "db":
                    losses_g = db_loss(terms, log_z, members=m)
                else:
                    losses_g = subtb_loss(terms, log_z, lam, members=m)
            objective_losses = objective_losses.index_add(0, torch.tensor(members, device=dev), losses_g)

        total = (objective_losses + intrinsic_losses).sum()
        wf = weight.to(torch.float32)
        mean_r = (r_rows * wf).sum(dim=1) / wf.sum(dim=1)
        mean_len = lengths.view(k, batch).float().mean(dim=1)
        table = torch.stack([objective_losses.detach(), intrinsic_losses.detach(), mean_r, mean_len], dim=1).tolist()
        infos = [{"loss": a, "intrinsic_loss": b, "mean_intrinsic": c, "mean_length": d} for a, b, c, d in table]
        return total, infos

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
