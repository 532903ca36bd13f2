"""``K`` grid PPO runs (PPO or PPO + RND, :class:`gafn_lib.baselines.ppo.PPOConfig`) trained in
lockstep as one batched model; the solo :class:`PPOTrainer` is its ``K = 1``.

The algorithm of each member is the one of :mod:`gafn_lib.baselines.ppo` (γ = 1, GAE, the clipped
objective, optional RND bonus on every move); this module only batches it.

**Members.** Member ``k`` owns the slice ``[k]`` of every stacked parameter (``W (K, in, out)``,
``b (K, 1, out)``, :class:`gafn_lib.core.ensemble.stacked.StackedMLP`): the actor is its forward
logits, the critic ``V_k(s)`` its log-flow head read as a raw scalar (no backward head is built),
and it has its own Adam moments (one fused Adam over stacked tensors is ``K`` elementwise-independent
Adams), RND target/predictor (:class:`~gafn_lib.core.ensemble.intrinsic.StackedRND`), metrics
tracker, :class:`History` and ``torch.Generator`` seeded with its ``seed``. The generator is read in
a fixed order: network initialisation (policy, then RND target and predictor), then every step the
uniforms of its trajectories (inverse-CDF sampling, :mod:`gafn_lib.core.ensemble.sampling`) and one
``randperm`` per epoch. A member's numbers therefore depend on its own config only; trained inside
an ensemble it equals its solo run up to float rounding (padded sums).

**One step.** With ``B`` trajectories per member:

1. sample ``K·B`` trajectories in lockstep. Small grids (``K·H^ndim ≤``
   :data:`TABLE_MODE_MAX_STATES`) and larger ones where it is cheaper (:data:`ADAPTIVE_TABLES`),
   *table mode*: the actor and critic are evaluated once on every state (the policy is fixed during
   a roll-out) and sampling, ``log π_old(a|s)`` and ``V(s)`` are read from that table. Otherwise one stacked network call per move on the still-running
   trajectories (each member's, padded to the most of any member and to at least
   :data:`LIVE_ROWS_MIN`), then one stacked pass over every member's decisions for ``log π_old``
   and ``V``.
2. decisions: a trajectory with ``n`` moves has ``n + 1`` decisions (``n`` moves, then stop) or
   ``n`` when the last move was forced terminal; member ``k`` has ``N_k`` of them. Rewards
   ``r_t = R(x)·1[t = last] + η_k·‖f̂_k(s_{t+1}) − f_k(s_{t+1})‖₂·1[t is a move]`` (the second term
   for RND members only; the RND predictor takes one Adam step on the mean error over its visited
   positions ``s_0 … s_n``, before the PPO epochs).
3. GAE per member with its own ``λ_k`` (γ = 1): ``δ_t = r_t + V(s_{t+1})·1[t < last] − V(s_t)``,
   ``A = δ Λ_k`` with ``Λ_k[j, t] = λ_k^(j−t)`` for ``j ≥ t`` (:func:`gae_advantages_stacked`),
   returns ``G = A + V``; advantages standardised over the member's own ``N_k`` decisions
   (``(A − mean) / (std + 1e-8)``, population std) where ``normalize_advantages``.
4. ``epochs`` passes, each over a fresh permutation of every member's decisions (from its own
   generator) cut into ``n_minibatches`` consecutive chunks of ``⌊N_k/m⌋`` or ``⌈N_k/m⌉`` decisions
   (``torch.tensor_split``). Update ``j`` stacks every member's ``j``-th chunk, padded to the
   longest with weight 0, and minimises ``Σ_k L_k`` with, over member ``k``'s chunk ``I``,

       ρ = exp(log π_θ(a|s) − log π_old(a|s))
       L_k = mean_I max(−A ρ, −A clip(ρ, 1−ε_k, 1+ε_k)) − c_H,k · mean_I H(π_θ(·|s))
             + c_V,k · ½ mean_I (V_θ(s) − G)²

   (means over exactly the member's ``|I|`` decisions). ``∂(Σ_k L_k)/∂θ_k = ∂L_k/∂θ_k``; each
   member's gradient is then clipped to its own global norm ``g_k = ‖∇θ_k‖₂`` (all of its
   tensors): ``∇θ_k ← ∇θ_k · min(1, c_k / (g_k + 1e-6))`` with ``c_k = max_grad_norm`` (0.5), as
   ``torch.nn.utils.clip_grad_norm_`` does for one run. Then one Adam step of every member. The
   gradients are written by hand (:meth:`PPOEnsembleTrainer.ppo_gradients`, no autograd graph:
   1.1–1.35× faster a step) and tested against autograd of :meth:`PPOEnsembleTrainer.ppo_losses`.

Members must agree on what fixes shapes or the loop (grid, ``hidden``, ``n_layers``,
``batch_size``, ``epochs``, ``n_minibatches``, ``n_steps``, ``log_every``, ``device``, ``threads``)
and on ``lr`` (one fused Adam); they may differ in :data:`PPO_MEMBER_FIELDS`.

**Numbers against the previous solo trainer** (before this module, commit f7e46e5): its RNG use
differed (global torch RNG, ``torch.multinomial`` per move, ``randperm(n).chunk``, a ``MLPPolicy``
with an unused backward head), so solo PPO histories are not those of earlier runs; the algorithm
and its hyperparameters are unchanged.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F

from gafn_lib.baselines.ppo_core import PPOFields, clipped_surrogate, gae_advantages
from gafn_lib.core.ensemble.features import Featurizer
from gafn_lib.core.ensemble.intrinsic import StackedRND
from gafn_lib.core.ensemble.policy import StackedPolicy
from gafn_lib.core.ensemble.sampling import draw_uniforms, sample_ensemble
from gafn_lib.core.ensemble.stacked import StackedInputs
from gafn_lib.core.ensemble.trainer import MOVE_CALL_ROWS, make_adam
from gafn_lib.core.exact import exact_terminal_distribution
from gafn_lib.core.history import History
from gafn_lib.core.ensemble.members import MemberRuns, check_member_configs
from gafn_lib.core.loop import run_logged_loop
from gafn_lib.core.policies import masked_log_softmax
from gafn_lib.core.runtime import configure_threads, keep_freed_memory, resolve_device, seed_everything
from gafn_lib.core.sampling import Trajectories, action_probabilities
from gafn_lib.core.tracking import MetricsTracker
from gafn_lib.envs.hypergrid import Hypergrid
from gafn_lib.grid.config import GridFields

__all__ = [
    "ADAPTIVE_TABLES", "PPO_MEMBER_FIELDS", "TABLE_MODE_MAX_STATES", "PPOEnsembleTrainer", "PPOTrainer", "Rollout", "StackedRollout",
    "gae_advantages_stacked", "ppo_compatibility_key",
]

#: Fields in which the members of one PPO ensemble may differ (each is a per-member tensor).
PPO_MEMBER_FIELDS = (
    "seed", "intrinsic", "eta", "entropy_coef", "value_coef", "clip", "gae_lambda", "normalize_advantages", "max_grad_norm",
)
#: Table mode (actor and critic evaluated once per roll-out on every state) when ``K · n_states``
#: is at most this; above it, one stacked network call per move (as the GFlowNet ensemble).
TABLE_MODE_MAX_STATES = 2048
#: Above :data:`TABLE_MODE_MAX_STATES`, a roll-out still reads a table when the cost model of the
#: GFlowNet ensemble (:data:`gafn_lib.core.ensemble.trainer.MOVE_CALL_ROWS`) says it is cheaper: the
#: table costs ``K·n_states`` rows; per-move sampling ``(T+1)·(MOVE_CALL_ROWS + K·B)`` rows plus the
#: old-policy pass over ``K·N`` decisions, with ``T`` and ``N`` those of the previous roll-out (PPO's
#: trajectories lengthen or shorten as it trains). Both read the same probabilities.
ADAPTIVE_TABLES = True
#: Per-move sampling evaluates only the still-running trajectories, at least this many rows a
#: member (:func:`gafn_lib.core.ensemble.sampling.sample_ensemble`'s ``live_rows``).
LIVE_ROWS_MIN = 8
#: The diagnostics each PPO update adds up (their mean over the step's updates is logged).
DIAGNOSTICS = ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction")


def ppo_compatibility_key(config: Any) -> str:
    """PPO configs with equal keys can train in one ensemble: the class and every field but
    :data:`PPO_MEMBER_FIELDS` (a JSON string)."""
    shared = {k: v for k, v in dataclasses.asdict(config).items() if k not in PPO_MEMBER_FIELDS}
    cls = type(config)
    return json.dumps({"class": f"{cls.__module__}.{cls.__qualname__}", "fields": shared}, sort_keys=True, default=repr)


#: :func:`gafn_lib.baselines.ppo_core.gae_advantages` (one λ per member: ``(K, B, T1)`` inputs,
#: ``lam (K,)``), under the name this module had for its stacked form.
gae_advantages_stacked = gae_advantages


def check_ppo_configs(configs: Sequence[Any]) -> list:
    """``configs`` as a list of grid PPO configs (:class:`gafn_lib.baselines.ppo.PPOConfig`) that can
    share one ensemble. This module reads their grid fields (:class:`~gafn_lib.grid.config.GridFields`)
    and PPO fields (:class:`~gafn_lib.baselines.ppo_core.PPOFields`) and checks for those two bases
    instead of importing :mod:`gafn_lib.baselines.ppo` (which imports this module to re-export its
    trainers), so the imports run one way; annotations say ``Any`` for the same reason."""
    for c in configs:
        if not (isinstance(c, GridFields) and isinstance(c, PPOFields)):
            raise TypeError(f"configs must be PPOConfig instances, got {type(c).__name__}")
    return check_member_configs(configs, PPOFields, "PPOConfig", ppo_compatibility_key, PPO_MEMBER_FIELDS, "a PPO ensemble")


@dataclass(frozen=True)
class Rollout:
    """One member's batch of decisions, flattened over (trajectory, time); ``N`` decisions in all.

    ``source`` is the ensemble's :class:`StackedRollout` it was read from (what
    :meth:`PPOTrainer.update` trains on)."""

    obs: torch.Tensor  # (N, ndim·H) one-hot states
    action_mask: torch.Tensor  # (N, ndim+1) valid actions
    actions: torch.Tensor  # (N,)
    log_prob_old: torch.Tensor  # (N,) log π_old(a|s)
    advantages: torch.Tensor  # (N,) normalised if configured
    returns: torch.Tensor  # (N,) value targets G_t
    terminal: torch.Tensor  # (B, ndim) the sampled terminal states x
    info: dict
    source: "StackedRollout | None" = None


@dataclass(frozen=True)
class StackedRollout:
    """Every member's decisions, padded to the member with the most (``N = max_k N_k``).

    Row ``i < N_k`` of member ``k`` is its ``i``-th decision (trajectory-major, time order); padding
    rows repeat its first decision and have ``valid = False``.
    """

    states: torch.Tensor  # (K, N, ndim)
    inputs: StackedInputs  # what the stacked network reads of ``states``
    action_mask: torch.Tensor  # (K, N, A)
    actions: torch.Tensor  # (K, N)
    log_prob_old: torch.Tensor  # (K, N)
    advantages: torch.Tensor  # (K, N)
    returns: torch.Tensor  # (K, N)
    valid: torch.Tensor  # (K, N) bool
    n_decisions: list[int]  # N_k
    terminal: torch.Tensor  # (K·B, ndim); member k: rows k·B … k·B+B−1
    infos: list[dict]
    targets: torch.Tensor  # (K, N, 3): log_prob_old, advantages, returns (one gather per minibatch)

    def member(self, k: int, env: Hypergrid) -> Rollout:
        """Member ``k``'s decisions as a solo :class:`Rollout` (no padding)."""
        n = self.n_decisions[k]
        batch = self.terminal.shape[0] // self.actions.shape[0]
        return Rollout(
            obs=env.encode(self.states[k, :n]), action_mask=self.action_mask[k, :n], actions=self.actions[k, :n],
            log_prob_old=self.log_prob_old[k, :n], advantages=self.advantages[k, :n], returns=self.returns[k, :n],
            terminal=self.terminal[k * batch : (k + 1) * batch], info=dict(self.infos[k]), source=self,
        )


def _take(inputs: StackedInputs, rows: torch.Tensor) -> StackedInputs:
    """Rows ``rows (K, M)`` of every member's inputs."""
    x = inputs.indices if inputs.indices is not None else inputs.dense
    picked = x.gather(1, rows.unsqueeze(2).expand(-1, -1, x.shape[2]))
    return StackedInputs(indices=picked) if inputs.indices is not None else StackedInputs(dense=picked)


class PPOEnsembleTrainer(MemberRuns):
    """``K`` grid PPO runs trained together (see the module docstring). ``histories[k]`` is member
    ``k``'s history, with the columns of a solo run.

    Example:
        >>> configs = [PPOConfig(height=8, seed=s, n_steps=2000) for s in range(5)]
        >>> histories = PPOEnsembleTrainer(configs).train()
        >>> [h.final["l1_mean_exact"] for h in histories]
    """

    def __init__(self, configs: Sequence[Any]):
        configs = check_ppo_configs(configs)
        self.configs = configs
        self.n_members = k = len(configs)
        base = configs[0]
        if base.n_minibatches > base.batch_size:  # (PPOConfig checks it too; kept for configs built otherwise)
            raise ValueError(f"n_minibatches={base.n_minibatches} must be <= batch_size={base.batch_size}")
        configure_threads(base.threads)
        keep_freed_memory()
        seed_everything(base.seed)  # Python / NumPy; the members' torch draws come from their own generators
        self.device = dev = resolve_device(base.device)
        self.env = env = Hypergrid(base.grid_config(), device=dev)
        self.generators = [torch.Generator(device=dev).manual_seed(c.seed) for c in configs]
        self.featurizer = Featurizer(env)
        self.n_actions = env.n_actions
        # actor = forward logits; critic V(s) = the log-flow head read raw (no backward head)
        self.policy_net = StackedPolicy(env.obs_dim, env.n_actions, 0, base.hidden, base.n_layers, [True] * k, self.generators, dev)
        self.rnd_members = [i for i, c in enumerate(configs) if c.intrinsic == "rnd"]
        self.rnd: StackedRND | None = None
        self.rnd_optimizer: torch.optim.Optimizer | None = None
        if self.rnd_members:
            self.rnd = StackedRND(env.obs_dim, [configs[i].eta for i in self.rnd_members], [self.generators[i] for i in self.rnd_members], dev)
            self.rnd_optimizer = make_adam([{"params": list(self.rnd.predictor.parameters()), "lr": base.lr}])
        self._rnd_index = torch.tensor(self.rnd_members, dtype=torch.long, device=dev)
        self.optimizer = make_adam([{"params": list(self.policy_net.parameters()), "lr": base.lr}])
        for p in self.policy_net.parameters():  # written in place by every update (ppo_gradients)
            p.grad = torch.zeros_like(p)

        col = lambda name, dtype=torch.float32: torch.tensor([getattr(c, name) for c in configs], dtype=dtype, device=dev)
        self._clip = col("clip").view(k, 1)
        self._clip_low, self._clip_high = 1 - self._clip, 1 + self._clip
        self._loss_coef = torch.stack([torch.ones(k, device=dev), -col("entropy_coef"), 0.5 * col("value_coef")], dim=1)
        self._entropy_coef_3d = col("entropy_coef").view(k, 1, 1)
        self._value_coef_2d = col("value_coef").view(k, 1)
        self._lambda = col("gae_lambda")
        self._normalize = col("normalize_advantages", torch.bool).view(k, 1)
        self._max_norm = torch.tensor([float("inf") if c.max_grad_norm is None else c.max_grad_norm for c in configs], device=dev)

        states = env.all_states()
        self._n_states = states.shape[0]
        self._all_inputs = self.featurizer(states.unsqueeze(0).expand(k, *states.shape))
        self._all_fmask = env.forward_mask(states)
        self._all_rewards = env.reward(states).double()
        sampling_mask = self._all_fmask.clone()
        sampling_mask[:, env.stop_action] |= ~sampling_mask.any(dim=1)  # forced terminal: only "stop" (never taken)
        self._sampling_mask = sampling_mask
        self._last_rollout = (0, 0)  # (T+1, N) of the previous roll-out, for the choice of table mode
        self.table_mode = self._table_pays()
        if self.rnd is not None:
            self._cache_rnd_targets()

        self.trackers = [MetricsTracker(env) for _ in configs]
        self.histories = [History.for_config(c) for c in configs]
        self.step_count = 0
        self.wall_seconds = 0.0
        self._last_infos: list[dict[str, float]] = [{} for _ in configs]
        self.last_step_rows: dict[str, int] = {}

    @property
    def config(self) -> Any:
        """The first member's config (the shared fields are every member's)."""
        return self.configs[0]

    def _table_pays(self) -> bool:
        """Whether the next roll-out reads a table over every state (module docstring, step 1)."""
        k, rows = self.n_members, self.n_members * self._n_states
        if rows <= TABLE_MODE_MAX_STATES:
            return True
        moves, decisions = self._last_rollout
        return ADAPTIVE_TABLES and rows < moves * (MOVE_CALL_ROWS + k * self.config.batch_size) + k * decisions

    def _cache_rnd_targets(self) -> None:
        all_states = self.env.all_states()
        self.rnd.cache_targets(self.featurizer(all_states.unsqueeze(0).expand(len(self.rnd_members), *all_states.shape)))

    # ------------------------------------------------------------------ roll-out
    @torch.no_grad()
    def sample(self) -> tuple[Trajectories, tuple[torch.Tensor, torch.Tensor] | None]:
        """``K·B`` trajectories (member ``k``: rows ``k·B … k·B+B−1``), each from its own generator;
        in table mode also ``(log π(·|s) (K, S, A), V(s) (K, S))`` on every state."""
        c, env, k = self.config, self.env, self.n_members
        uniforms = draw_uniforms(self.generators, c.batch_size, env.max_moves + 1, self.device)
        self.table_mode = self._table_pays()
        if not self.table_mode:
            logits_of = lambda states: self.policy_net.forward_logits(self.featurizer(states))
            return sample_ensemble(env, logits_of, k, c.batch_size, uniforms, live_rows=LIVE_ROWS_MIN), None
        n = self._n_states
        out = self.policy_net.net.forward_inputs(self._all_inputs)  # (K, S, A+1)
        logits, values = out[..., : self.n_actions], out[..., self.n_actions]
        mask = self._sampling_mask.repeat(k, 1)
        probs = action_probabilities(logits.reshape(k * n, -1), mask, 0.0, 1.0)
        offsets = (torch.arange(k, device=self.device) * n).repeat_interleave(c.batch_size)

        def state_probs(states: torch.Tensor):
            rows = offsets + env.index(states)
            return probs[rows], mask[rows]

        traj = sample_ensemble(env, None, k, c.batch_size, uniforms, state_probs=state_probs)
        return traj, (masked_log_softmax(logits, self._all_fmask.unsqueeze(0)), values)

    def _collect_all(self) -> StackedRollout:
        c, env, k, batch = self.config, self.env, self.n_members, self.config.batch_size
        dev = self.device
        traj, table = self.sample()
        kb, t1 = traj.states.shape[:2]
        lengths, forced = traj.lengths, traj.forced
        pos = torch.arange(t1, device=dev)
        is_move = pos < lengths.unsqueeze(1)  # (KB, T1)
        is_stop = (pos == lengths.unsqueeze(1)) & ~forced.unsqueeze(1)
        decision = (is_move | is_stop).view(k, batch * t1)
        last = lengths - forced.long()  # each trajectory's final decision
        moves = torch.cat([traj.actions, traj.actions.new_full((kb, 1), -1)], dim=1)
        actions = torch.where(is_move, moves, torch.full_like(moves, env.stop_action)).view(k, batch * t1)

        # every member's decisions first (in order), padded with its first decision
        n_dec = decision.sum(dim=1)
        n_list = n_dec.tolist()
        n_max = max(n_list)
        order = torch.sort((~decision).to(torch.uint8), dim=1, stable=True).indices[:, :n_max]
        valid = torch.arange(n_max, device=dev).unsqueeze(0) < n_dec.unsqueeze(1)
        order = torch.where(valid, order, order[:, :1])
        state_shape = traj.states.shape[2:]
        flat_states = traj.states.reshape(k, batch * t1, *state_shape)
        dec_states = flat_states.gather(1, order.view(k, n_max, *([1] * len(state_shape))).expand(k, n_max, *state_shape))
        dec_actions = actions.gather(1, order)
        dec_index = env.index(dec_states.reshape(-1, *state_shape)).view(k, n_max)
        dec_inputs = self.featurizer(dec_states)
        dec_fmask = self._all_fmask[dec_index]  # (K, N, A)

        with torch.no_grad():
            if table is not None:
                log_pi_all, values_all = table
                log_pi = log_pi_all.gather(1, dec_index.unsqueeze(2).expand(-1, -1, self.n_actions))
                dec_values = values_all.gather(1, dec_index)
                old_rows = 0
            else:
                out = self.policy_net.net.forward_inputs(dec_inputs)
                log_pi = masked_log_softmax(out[..., : self.n_actions], dec_fmask)
                dec_values = out[..., self.n_actions]
                old_rows = k * n_max
            log_prob_old = log_pi.gather(2, dec_actions.unsqueeze(2)).squeeze(2)
            values = torch.zeros(k, batch * t1, device=dev).scatter_(1, order, dec_values).view(k, batch, t1)

        extrinsic = env.reward(traj.terminal)  # (KB,) R(x), not its log
        rewards = torch.zeros(kb, t1, device=dev).scatter_(1, last.unsqueeze(1), extrinsic.unsqueeze(1))
        mean_reward = extrinsic.view(k, batch).mean(dim=1).tolist()
        mean_length = lengths.view(k, batch).float().mean(dim=1).tolist()
        infos = [{"mean_reward": r, "mean_length": l} for r, l in zip(mean_reward, mean_length)]
        rnd_rows = 0
        if self.rnd is not None:
            rewards, rnd_rows = self._rnd_bonus(traj, rewards, is_move, infos)

        advantages = gae_advantages_stacked(rewards.view(k, batch, t1), values, last.view(k, batch), self._lambda)
        returns = (advantages + values).view(k, batch * t1).gather(1, order)
        advantages = advantages.view(k, batch * t1).gather(1, order)
        w = valid.to(advantages.dtype)
        count = n_dec.to(advantages.dtype).unsqueeze(1)
        mean = (advantages * w).sum(dim=1, keepdim=True) / count
        std = (((advantages - mean) ** 2 * w).sum(dim=1, keepdim=True) / count).sqrt()
        advantages = torch.where(self._normalize, (advantages - mean) / (std + 1e-8), advantages)
        sample_rows = k * self._n_states if self.table_mode else kb * t1
        self._last_rollout = (t1, n_max)
        self.last_step_rows = {"sample": sample_rows + old_rows, "rnd": rnd_rows}
        return StackedRollout(
            states=dec_states, inputs=dec_inputs, action_mask=dec_fmask, actions=dec_actions, log_prob_old=log_prob_old,
            advantages=advantages, returns=returns, valid=valid, n_decisions=n_list, terminal=traj.terminal, infos=infos,
            targets=torch.stack([log_prob_old, advantages, returns], dim=2),
        )

    def _rnd_bonus(self, traj: Trajectories, rewards: torch.Tensor, is_move: torch.Tensor, infos: list[dict]) -> tuple[torch.Tensor, int]:
        """Add ``η_k·‖f̂_k(s_{t+1}) − f_k(s_{t+1})‖₂`` to every move of the RND members and take one
        Adam step of their predictors on the mean error over the visited positions ``s_0 … s_n``."""
        k, batch = self.n_members, self.config.batch_size
        kb, t1 = traj.states.shape[:2]
        shape = traj.states.shape[2:]
        sel = self._rnd_index
        k_r = len(self.rnd_members)
        visited = (torch.arange(t1, device=self.device) <= traj.lengths.unsqueeze(1)).view(k, batch * t1).index_select(0, sel)
        # each member's visited positions first (padding after a trajectory's end is not evaluated)
        n_visited = visited.sum(dim=1)
        width = int(n_visited.max())
        positions = torch.sort((~visited).to(torch.uint8), dim=1, stable=True).indices[:, :width]
        real = torch.arange(width, device=self.device) < n_visited.unsqueeze(1)
        order = torch.where(real, positions, positions[:, :1])  # padding: the member's first state
        flat = traj.states.view(k, batch * t1, *shape).index_select(0, sel)
        states = flat.gather(1, order.view(k_r, width, *([1] * len(shape))).expand(k_r, width, *shape))  # (K_r, V, ...)
        index = self.env.index(states.reshape(-1, *shape)).view(k_r, width)
        err = self.rnd.errors(self.featurizer(states), index)  # (K_r, V), differentiable w.r.t. the predictors
        w = real.to(err.dtype)
        n_visited = n_visited.to(err.dtype)
        losses = (err * w).sum(dim=1) / n_visited
        self.rnd_optimizer.zero_grad(set_to_none=True)
        losses.sum().backward()
        self.rnd_optimizer.step()
        bonus_v = self.rnd.eta * err.detach()
        scratch = batch * t1  # padding rows write to an extra column, dropped
        bonus = torch.zeros(k_r, scratch + 1, device=self.device).scatter_(1, torch.where(real, positions, scratch), bonus_v)
        bonus = bonus[:, :scratch].reshape(k_r, batch, t1)
        child = torch.cat([bonus[..., 1:], torch.zeros_like(bonus[..., :1])], dim=2).reshape(k_r * batch, t1)
        member_rows = (sel.view(-1, 1) * batch + torch.arange(batch, device=self.device)).reshape(-1)
        rewards = rewards.index_add(0, member_rows, child * is_move.index_select(0, member_rows))
        mean_bonus = ((bonus_v * w).sum(dim=1) / n_visited).tolist()
        for j, (member, loss) in enumerate(zip(self.rnd_members, losses.detach().tolist())):
            infos[member].update(rnd_loss=loss, mean_intrinsic=mean_bonus[j])
        return rewards, k_r * width

    def collect(self) -> StackedRollout:
        """Sample every member's trajectories and score every decision (steps 1–3 of the module docstring)."""
        return self._collect_all()

    # ------------------------------------------------------------------ update
    def minibatches(self, n_decisions: Sequence[int], n_max: int) -> tuple[torch.Tensor, torch.Tensor]:
        """One epoch's minibatches: ``(rows (m, K, M), weight (m, K, M))``. Member ``k`` permutes its
        ``N_k`` decisions with its own generator and cuts the permutation into ``m`` consecutive
        chunks as ``torch.tensor_split`` does (the first ``N_k mod m`` one longer); ``weight`` is
        ``1/|chunk|`` on the chunk's rows and 0 on padding rows (which repeat the chunk's first row),
        so ``Σ_rows weight · x`` is the mean of ``x`` over exactly the member's own decisions."""
        k, m, dev = self.n_members, self.config.n_minibatches, self.device
        perms = torch.zeros(k, n_max, dtype=torch.long, device=dev)
        for i, (g, n) in enumerate(zip(self.generators, n_decisions)):
            perms[i, :n] = torch.randperm(n, generator=g, device=dev)
        n = torch.tensor(list(n_decisions), device=dev)
        j = torch.arange(m, device=dev)
        sizes = (n // m).unsqueeze(1) + (j < (n % m).unsqueeze(1)).long()  # (K, m)
        starts = torch.cumsum(sizes, dim=1) - sizes
        width = -(-max(n_decisions) // m)
        r = torch.arange(width, device=dev)
        valid = r < sizes.unsqueeze(2)  # (K, m, M)
        pos = torch.where(valid, starts.unsqueeze(2) + r, starts.unsqueeze(2))
        rows = perms.gather(1, pos.view(k, m * width)).view(k, m, width)
        weight = valid.to(torch.float32) / sizes.unsqueeze(2).to(torch.float32)
        return rows.transpose(0, 1), weight.transpose(0, 1)

    def ppo_losses(self, rollout: StackedRollout, rows: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Every member's clipped PPO loss ``L_k`` on its minibatch (module docstring, step 4):
        ``(L (K,), diagnostics (K, 5))`` in the order of :data:`DIAGNOSTICS`. ``rows (K, M)`` index the
        rollout's decisions; ``weight (K, M)`` is ``1/|I_k|`` on member ``k``'s real rows and 0 on
        padding (:meth:`minibatches`), so every mean is over the member's own decisions."""
        a = self.n_actions
        out = self.policy_net.net.forward_inputs(_take(rollout.inputs, rows))  # (K, M, A+1)
        logits, values = out[..., :a], out[..., a]
        amask = rollout.action_mask.gather(1, rows.unsqueeze(2).expand(-1, -1, a))
        log_probs = masked_log_softmax(logits, amask)
        log_prob = log_probs.gather(2, rollout.actions.gather(1, rows).unsqueeze(2)).squeeze(2)
        old, adv, ret = rollout.targets.gather(1, rows.unsqueeze(2).expand(-1, -1, 3)).unbind(2)
        log_ratio = log_prob - old
        ratio = log_ratio.exp()
        policy = clipped_surrogate(ratio, adv, self._clip_low, self._clip_high)
        entropy = -(log_probs.exp() * log_probs).sum(dim=2)  # invalid actions: p = 0 exactly
        squared = (values - ret).pow(2)
        means = (torch.stack([policy, entropy, squared], dim=2) * weight.unsqueeze(2)).sum(dim=1)  # (K, 3)
        losses = (means * self._loss_coef).sum(dim=1)  # policy − c_H·entropy + c_V·½·squared error
        with torch.no_grad():
            extra = torch.stack([(ratio - 1) - log_ratio, ((ratio - 1).abs() > self._clip).to(out.dtype)], dim=2)
            kl, clip_fraction = (extra * weight.unsqueeze(2)).sum(dim=1).unbind(1)
            diagnostics = torch.stack([means[:, 0], 0.5 * means[:, 2], means[:, 1], kl, clip_fraction], dim=1)
        return losses, diagnostics

    @torch.no_grad()
    def ppo_gradients(self, rollout: StackedRollout, rows: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`ppo_losses` with the gradient of ``Σ_k L_k`` written by hand into the parameters'
        ``.grad`` (no autograd graph: a minibatch is ~100 tiny operations, so the update is bound by
        their count). Returns the same ``(L (K,), diagnostics (K, 5))``.

        With ``p = π(·|s)``, ``ℓ`` the logits, ``a`` the action, ``w`` the row's weight and the
        coefficients of member ``k``:

        - policy term ``−min(A ρ, A clip(ρ))``: ``∂/∂ log π(a|s) = −A ρ`` where ``A ρ`` is the
          smaller term or ``1−ε ≤ ρ ≤ 1+ε``, else 0 (:func:`~gafn_lib.baselines.ppo_core.clipped_surrogate`
          with ``grad=True``); and ``∂ log π(a|s)/∂ℓ = onehot(a) − p``;
        - entropy ``H = −Σ p log p``: ``∂H/∂ℓ = −p (log p + H)`` (0 on invalid actions, ``p = 0``);
        - value term ``c_V · ½ (V − G)²``: ``∂/∂V = c_V (V − G)``;

        then back through the layers: ``∂W_i = a_{i−1}ᵀ δ_i``, ``∂b_i = Σ_rows δ_i``,
        ``δ_{i−1} = (δ_i W_iᵀ) ⊙ leaky'(z_{i−1})``; the one-hot first layer adds each row's ``δ_0``
        to the rows of ``W_0`` its active indices select.
        """
        net, a = self.policy_net.net, self.n_actions
        for p in net.parameters():
            if p.grad is None:  # (e.g. after a zero_grad(set_to_none=True))
                p.grad = torch.zeros_like(p)
        inputs = _take(rollout.inputs, rows)
        k, m_rows = rows.shape
        # forward, keeping the pre-activations z_i and the activations a_i
        w0, b0 = net.layer(0)
        if inputs.indices is not None:
            fan_in = w0.shape[1]
            flat = (inputs.indices + net.member_offsets * fan_in).view(k * m_rows, -1)
            z = F.embedding_bag(flat, w0.reshape(k * fan_in, -1), mode="sum").view(k, m_rows, -1) + b0
        else:
            z = torch.baddbmm(b0, inputs.dense, w0)
        pre, acts = [z], []
        for i in range(1, net.n_layers):
            act = F.leaky_relu(pre[-1])
            acts.append(act)
            w, b = net.layer(i)
            pre.append(torch.baddbmm(b, act, w))
        out = pre.pop()
        logits, values = out[..., :a], out[..., a]

        amask = rollout.action_mask.gather(1, rows.unsqueeze(2).expand(-1, -1, a))
        log_probs = masked_log_softmax(logits, amask)
        probs = log_probs.exp()
        actions = rollout.actions.gather(1, rows).unsqueeze(2)
        log_prob = log_probs.gather(2, actions).squeeze(2)
        old, adv, ret = rollout.targets.gather(1, rows.unsqueeze(2).expand(-1, -1, 3)).unbind(2)
        log_ratio = log_prob - old
        ratio = log_ratio.exp()
        policy, d_policy = clipped_surrogate(ratio, adv, self._clip_low, self._clip_high, grad=True)
        entropy = -(probs * log_probs).sum(dim=2)
        diff = values - ret
        wu = weight.unsqueeze(2)
        means = (torch.stack([policy, entropy, diff.pow(2)], dim=2) * wu).sum(dim=1)  # (K, 3)
        losses = (means * self._loss_coef).sum(dim=1)
        extra = torch.stack([(ratio - 1) - log_ratio, ((ratio - 1).abs() > self._clip).to(out.dtype)], dim=2)
        kl, clip_fraction = (extra * wu).sum(dim=1).unbind(1)
        diagnostics = torch.stack([means[:, 0], 0.5 * means[:, 2], means[:, 1], kl, clip_fraction], dim=1)

        # ∂(Σ_k L_k)/∂out; ∂(policy term)/∂ log π(a|s) from clipped_surrogate
        d_log_prob = d_policy * weight  # (K, M)
        d_logits = d_log_prob.unsqueeze(2) * (-probs).scatter_add_(2, actions, torch.ones_like(actions, dtype=probs.dtype))
        d_logits += self._entropy_coef_3d * wu * probs * (log_probs + entropy.unsqueeze(2))
        d_values = self._value_coef_2d * weight * diff
        delta = torch.cat([d_logits, d_values.unsqueeze(2)], dim=2)

        # back through the layers, into the parameters' (reused) gradient buffers
        for i in range(net.n_layers - 1, 0, -1):
            w, b = net.layer(i)
            torch.bmm(acts[i - 1].transpose(1, 2), delta, out=w.grad)
            torch.sum(delta, dim=1, keepdim=True, out=b.grad)
            delta = torch.ops.aten.leaky_relu_backward(torch.bmm(delta, w.transpose(1, 2)), pre[i - 1], 0.01, False)
        torch.sum(delta, dim=1, keepdim=True, out=b0.grad)
        if inputs.indices is not None:
            w0.grad.zero_()
            table, rows_grad = w0.grad.view(k * w0.shape[1], -1), delta.reshape(k * m_rows, -1)
            for j in range(flat.shape[1]):  # each one-hot block: add every row's δ_0 at its index
                table.index_add_(0, flat[:, j], rows_grad)
        else:
            torch.bmm(inputs.dense.transpose(1, 2), delta, out=w0.grad)
        return losses, diagnostics

    def clip_gradients(self) -> torch.Tensor:
        """Scale each member's gradient to at most its ``max_grad_norm`` (its own global norm over
        all of its tensors); returns the norms before clipping ``(K,)``."""
        grads = [p.grad for p in self.policy_net.parameters() if p.grad is not None]
        k = self.n_members
        norms = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.reshape(k, -1), dim=1) for g in grads]), dim=0)
        coef = (self._max_norm / (norms + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(coef.view(k, *([1] * (g.dim() - 1))))
        return norms

    def _update_all(self, rollout: StackedRollout) -> list[dict[str, float]]:
        c = self.config
        n_max = rollout.actions.shape[1]
        sums = torch.zeros(self.n_members, len(DIAGNOSTICS), device=self.device)
        train_rows = 0
        for _ in range(c.epochs):
            rows, weight = self.minibatches(rollout.n_decisions, n_max)
            for j in range(c.n_minibatches):
                _, diagnostics = self.ppo_gradients(rollout, rows[j], weight[j])
                self.clip_gradients()
                self.optimizer.step()
                sums += diagnostics
                train_rows += rows[j].numel()
        self.last_step_rows["train"] = train_rows
        means = (sums / (c.epochs * c.n_minibatches)).tolist()
        return [dict(zip(DIAGNOSTICS, m)) for m in means]

    def update(self, rollout: StackedRollout) -> list[dict[str, float]]:
        """``epochs × n_minibatches`` Adam steps of every member on its clipped objective; each
        member's mean diagnostics."""
        return self._update_all(rollout)

    def _step_all(self) -> list[dict[str, float]]:
        start = time.perf_counter()
        rollout = self._collect_all()
        diagnostics = self._update_all(rollout)
        infos = [{**info, **d} for info, d in zip(rollout.infos, diagnostics)]
        batch = self.config.batch_size
        for i, tracker in enumerate(self.trackers):
            tracker.record_terminals(rollout.terminal[i * batch : (i + 1) * batch])
        self.step_count += 1
        self.wall_seconds += time.perf_counter() - start
        self._last_infos = infos
        return infos

    def step(self) -> list[dict[str, float]]:
        """One PPO iteration of every member (sample, RND update, PPO epochs); each member's diagnostics."""
        return self._step_all()

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def forward_probabilities_all(self) -> torch.Tensor:
        """Every member's actor ``π(·|s)`` on every cell, ``(K, H^ndim, ndim+1)``."""
        k, n = self.n_members, self._n_states
        logits = self.policy_net.forward_logits(self._all_inputs).reshape(k * n, -1)
        return action_probabilities(logits, self._all_fmask.repeat(k, 1), 0.0, 1.0).view(k, n, -1)

    def evaluate_members(self) -> list[dict]:
        """One history row per member: the grid metrics (exact policy included), the exact expected
        reward of its policy and its last PPO diagnostics. ``wall_seconds`` is the ensemble's
        training time divided by ``K`` (each member's share)."""
        probs = self.forward_probabilities_all()
        rows = []
        for i, tracker in enumerate(self.trackers):
            row = {"step": self.step_count}
            row.update(tracker.row(probs[i]))
            p_exact = exact_terminal_distribution(self.env, probs[i])
            row.update(wall_seconds=self.wall_seconds / self.n_members, expected_reward_exact=float((p_exact * self._all_rewards).sum()))
            row.update(self._last_infos[i])
            rows.append(row)
        return rows

    def describe(self) -> str:
        c = self.config
        if self.n_members == 1:
            return f"{'ppo_rnd' if c.intrinsic == 'rnd' else 'ppo'} H={c.height} seed={c.seed}"
        return f"PPO ensemble of {self.n_members} H={c.height}"

    # ------------------------------------------------------------------ checkpointing
    def state_dict(self) -> dict:
        """Tensors and plain containers only (``torch.load(..., weights_only=True)``); resuming
        from it is bit-for-bit on CPU."""
        state = {**self._members_state(), "last_rollout": list(self._last_rollout)}
        if self.rnd is not None:
            state["rnd"] = self.rnd.state_dict()
            state["rnd_optimizer"] = self.rnd_optimizer.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        if ("rnd" in state) != (self.rnd is not None):
            raise ValueError("the checkpoint and this trainer disagree on which members use RND")
        self._load_members_state(state)
        self._last_rollout = tuple(int(x) for x in state["last_rollout"])
        if self.rnd is not None:
            self.rnd.load_state_dict(state["rnd"])
            self.rnd_optimizer.load_state_dict(state["rnd_optimizer"])
            self._cache_rnd_targets()  # the cached targets of the loaded target networks


class PPOTrainer(PPOEnsembleTrainer):
    """PPO (+ optional RND) on the hypergrid, with the GridTrainer protocol: a
    :class:`PPOEnsembleTrainer` of one run.

    Example:
        >>> trainer = PPOTrainer(PPOConfig(height=8, n_steps=200))
        >>> trainer.train().final["l1_mean_exact"]
    """

    #: What the runner trains several configs of this trainer with, and which configs can share one.
    ensemble_class = PPOEnsembleTrainer
    ensemble_key = staticmethod(ppo_compatibility_key)

    def __init__(self, config: Any):
        if not (isinstance(config, GridFields) and isinstance(config, PPOFields)):
            raise TypeError(f"config must be a PPOConfig, got {type(config).__name__}")
        super().__init__([config])

    @property
    def config(self) -> Any:
        return self.configs[0]

    @property
    def history(self) -> History:
        return self.histories[0]

    @property
    def tracker(self) -> MetricsTracker:
        return self.trackers[0]

    @property
    def _last_info(self) -> dict[str, float]:
        return self._last_infos[0]

    @property
    def policy(self) -> StackedPolicy:
        """The network (its parameters are stacked with a leading member dimension of 1)."""
        return self.policy_net

    def collect(self) -> Rollout:  # type: ignore[override]
        """Sample ``batch_size`` trajectories and score every decision."""
        return self._collect_all().member(0, self.env)

    def update(self, rollout: Rollout) -> dict[str, float]:  # type: ignore[override]
        """``epochs`` × ``n_minibatches`` Adam steps on the clipped PPO objective."""
        if rollout.source is None:
            raise ValueError("rollout must come from this trainer's collect()")
        return self._update_all(rollout.source)[0]

    def step(self) -> dict[str, float]:  # type: ignore[override]
        """One PPO iteration: sample, (RND update), PPO epochs. Returns diagnostics."""
        return self._step_all()[0]

    def forward_probabilities(self) -> torch.Tensor:
        """The actor's ``π(·|s)`` on every cell, ``(H^ndim, ndim+1)``."""
        return self.forward_probabilities_all()[0]

    def evaluate(self) -> dict:
        """One history row: the shared grid metrics (exact policy included) + PPO diagnostics."""
        return self.evaluate_members()[0]

    def progress_postfix(self, row: dict) -> dict:
        return {"l1": f"{row['l1_mean_exact']:.2e}", "modes": f"{row['modes_found']}/{row['n_modes']}"}

    def train(self, n_steps: int | None = None, progress: bool = True, on_log: Callable[[Any], None] | None = None) -> History:  # type: ignore[override]
        """Run until ``n_steps`` (default ``config.n_steps``) steps are done in total, logging a row every
        ``config.log_every`` steps and at the last step; ``on_log(trainer)`` follows each row."""

        return run_logged_loop(self, n_steps, progress, on_log, self.progress_postfix)
