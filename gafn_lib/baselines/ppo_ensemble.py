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
``randperm`` per epoch.

**Same seed, same numbers.** A member computes bit for bit what it computes alone, whatever its
partners (their seeds, RND, η, coefficients, clip, λ, normalisation, gradient cap), their number
and its position, in both roll-out modes and across a resume (``tests/test_ppo_batch_invariance.py``):
its logged history is ``==`` its solo run's. What makes it so:

- every shape a member's numbers go through is a function of its own config and its own batch,
  never of its partners': the roll-out mode is the run's own (:func:`table_mode_of`);
  trajectories are padded to ``max_moves``; decisions to ``B·(max_moves+1)`` rows per member; RND
  reads every state or every position (:func:`rnd_on_states`); and a member's minibatches have a
  width set by its own decision count (:func:`minibatch_width`): members of equal width share one
  stacked pass, the others take their own. Padding with rows of weight 0 is not harmless: BLAS
  blocks the rows of ``a_{i−1}ᵀ δ_i`` by their number and row sums group their terms by the row's
  length, so a member's gradients and means changed with the width its partners imposed;
- the stacked operations are those whose result for one member does not depend on the others'
  (batched matmuls, one matrix per member; gathers; softmax and log-softmax row by row; sums over
  a member's own row, never over the member axis — the global gradient norm included; the first
  layer a gather and a sum; the one-hot backward an ``index_add_`` in the member's own row order);
  GAE's discount matrices ``λ_k^lag`` are computed member by member, once;
- a minibatch width is a multiple of :data:`MINIBATCH_ALIGN` rows, so every member's block of the
  update's elementwise exponentials is whole vectors of the vectorised kernels (which may round
  their scalar remainder otherwise; with torch 2.13 on AVX2, ``exp`` and ``log`` agree between the
  two paths while ``pow``, ``sigmoid`` and ``logaddexp`` do not);
- every member's slice of a stacked parameter is padded to whole vectors of the fused Adam kernel
  (:data:`~gafn_lib.core.ensemble.stacked.MEMBER_ALIGN`: the head's ``ndim + 2`` columns are stored
  as 16); the padding's gradient is 0 and stays 0.

Before (up to commit 2b66004) a member equalled its solo run only up to float rounding: the
roll-out mode depended on ``K·n_states`` and the previous roll-out's lengths; decisions, RND rows
and minibatches were padded to the most of any member (advantage standardisation, the RND loss,
the minibatch means and the weight gradients then summed over partner-dependent widths); and the
global gradient norms were reduced over the member axis.

**One step.** With ``B`` trajectories per member, ``T = max_moves``, ``T1 = T + 1``:

1. sample ``K·B`` trajectories in lockstep, padded to ``T`` moves. *Table mode*
   (:func:`table_mode_of`: small grids, and larger ones where it is cheaper): the actor and critic
   are evaluated once on every state (the policy is fixed during a roll-out), sampling walks the
   state indices (:func:`~gafn_lib.core.ensemble.sampling.sample_from_tables`) and ``log π_old(a|s)``
   and ``V(s)`` are read from the table. Otherwise one stacked network call per move on every
   trajectory (:func:`~gafn_lib.core.ensemble.sampling.sample_ensemble`), whose outputs are kept
   as ``log π_old`` and ``V`` of each position.
2. decisions: a trajectory with ``n`` moves has ``n + 1`` decisions (``n`` moves, then stop) or
   ``n`` when the last move was forced terminal; member ``k`` has ``N_k`` of them, laid out first
   among ``B·T1`` rows. Rewards ``r_t = R(x)·1[t = last] + η_k·‖f̂_k(s_{t+1}) − f_k(s_{t+1})‖₂·1[t
   is a move]`` (the second term for RND members only; the RND predictor takes one Adam step on the
   mean error over its visited positions ``s_0 … s_n``, before the PPO epochs).
3. GAE per member with its own ``λ_k`` (γ = 1): ``δ_t = r_t + V(s_{t+1})·1[t < last] − V(s_t)``,
   ``A = δ Λ_k`` with ``Λ_k[j, t] = λ_k^(j−t)`` for ``j ≥ t`` (:func:`gae_advantages_stacked`),
   returns ``G = A + V``; advantages standardised over the member's own ``N_k`` decisions
   (``(A − mean) / (std + 1e-8)``, population std) where ``normalize_advantages``.
4. ``epochs`` passes, each over a fresh permutation of every member's decisions (from its own
   generator) cut into ``n_minibatches`` consecutive chunks of ``⌊N_k/m⌋`` or ``⌈N_k/m⌉`` decisions
   (``torch.tensor_split``), each padded with weight-0 rows to ``minibatch_width(N_k, m)``. Update
   ``j`` minimises ``Σ_k L_k`` with, over member ``k``'s chunk ``I``,

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

**Numbers against earlier versions.** The canonical padding changed the rounding of the solo run
too (RND on every state or position, minibatches padded to their width, ...): solo PPO histories
differ in their last bits from those before this layout (commit 2b66004) and so, a few hundred
steps on, in their trajectories. Before that, against the first solo trainer (commit f7e46e5), the
RNG use differed (global torch RNG, ``torch.multinomial`` per move, ``randperm(n).chunk``, a
``MLPPolicy`` with an unused backward head). The algorithm and its hyperparameters are unchanged.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch

from gafn_lib.baselines.ppo_core import PPOFields, clipped_surrogate, gae_advantages, gae_discount
from gafn_lib.core.ensemble.features import Featurizer
from gafn_lib.core.ensemble.intrinsic import StackedRND
from gafn_lib.core.ensemble.policy import StackedPolicy
from gafn_lib.core.ensemble.sampling import draw_uniforms, sample_ensemble, sample_from_tables, transition_table
from gafn_lib.core.ensemble.stacked import StackedInputs
from gafn_lib.core.ensemble.trainer import MOVE_CALL_ROWS, make_adam
from gafn_lib.core.exact import exact_terminal_distribution, state_graph
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
    "ADAPTIVE_TABLES", "MINIBATCH_ALIGN", "PPO_MEMBER_FIELDS", "TABLE_MODE_MAX_STATES", "PPOEnsembleTrainer", "PPOTrainer", "Rollout",
    "StackedRollout", "gae_advantages_stacked", "minibatch_width", "ppo_compatibility_key", "rnd_on_states", "table_mode_of",
]

#: Fields in which the members of one PPO ensemble may differ (each is a per-member tensor).
PPO_MEMBER_FIELDS = (
    "seed", "intrinsic", "eta", "entropy_coef", "value_coef", "clip", "gae_lambda", "normalize_advantages", "max_grad_norm",
)
#: A run whose grid has at most this many states reads tables (:func:`table_mode_of`).
TABLE_MODE_MAX_STATES = 2048
#: Above :data:`TABLE_MODE_MAX_STATES`, a roll-out still reads a table when the GFlowNet engine's
#: cost model says it is cheaper (:func:`table_mode_of`); ``False``: never.
ADAPTIVE_TABLES = True
#: A minibatch's width (rows per member) is a multiple of this: every per-member block of the
#: update's elementwise operations is then made of whole vectors of the vectorised CPU kernels
#: (16 floats a loop iteration with AVX2, 32 with AVX-512), so no member's row falls in a kernel's
#: scalar remainder, alone or beside any partners. Coarse steps also let members of similar
#: batches share a width, hence a stacked pass.
MINIBATCH_ALIGN = 32
#: The diagnostics each PPO update adds up (their mean over the step's updates is logged).
DIAGNOSTICS = ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction")


def table_mode_of(env, batch_size: int) -> bool:
    """Whether a run reads its roll-outs from tables over every state: a function of its grid and
    batch size only, never of the runs it shares an ensemble with.

    Tables up to :data:`TABLE_MODE_MAX_STATES` states, and above where the cost model of the
    GFlowNet engine (:func:`gafn_lib.core.ensemble.trainer.evaluation_modes`) says a table of
    ``n_states`` rows is cheaper than one network call per move, ``max_moves · (MOVE_CALL_ROWS +
    B)`` rows (with :data:`ADAPTIVE_TABLES`): every 2-D grid up to H = 128 at ``B = 16``."""
    if env.n_states <= TABLE_MODE_MAX_STATES:
        return True
    return ADAPTIVE_TABLES and env.n_states < env.max_moves * (MOVE_CALL_ROWS + batch_size)


def rnd_on_states(env, batch_size: int) -> bool:
    """Whether RND is evaluated on every state (weighted by visits) rather than on every position
    of the batch (``B·(max_moves+1)`` rows): whichever has fewer rows; a function of the run's
    grid and batch size only."""
    return env.n_states <= batch_size * (env.max_moves + 1)


def minibatch_width(n_decisions: int, n_minibatches: int) -> int:
    """Rows per member of a minibatch of a member with ``n_decisions`` decisions: ``⌈N/m⌉`` rounded
    up to a multiple of :data:`MINIBATCH_ALIGN`, with coarser steps as it grows (multiples of
    ``q``, ``q`` doubled while the chunk exceeds ``4q``: 32, 64, 96, 128, 192, 256, 384, 512, …; less
    than ``max(32, chunk/2)`` rows of padding), so that members of similar batches share a width
    (one stacked pass). A function of the member's own decision count only."""
    chunk = -(-n_decisions // n_minibatches)
    q = MINIBATCH_ALIGN
    while chunk > 4 * q:
        q *= 2
    return q * max(1, -(-chunk // q))


def ppo_compatibility_key(config: Any) -> str:
    """PPO configs with equal keys can train in one ensemble: the class and every field but
    :data:`PPO_MEMBER_FIELDS` (a JSON string)."""
    shared = {k: v for k, v in dataclasses.asdict(config).items() if k not in PPO_MEMBER_FIELDS}
    cls = type(config)
    return json.dumps({"class": f"{cls.__module__}.{cls.__qualname__}", "fields": shared}, sort_keys=True, default=repr)


#: :func:`gafn_lib.baselines.ppo_core.gae_advantages` (one λ per member: ``(K, B, T1)`` inputs,
#: ``lam (K,)``, or each member's discount matrix ``discount (K, T1, T1)``), under the name this
#: module had for its stacked form.
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
    """Every member's decisions, each member's laid out on ``N = B·(max_moves+1)`` rows (the most
    any batch can have, so the layout never depends on the partners).

    Row ``i < N_k`` of member ``k`` is its ``i``-th decision (trajectory-major, time order); the
    other rows repeat its first decision and have ``valid = False``.
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

    def select(self, members: torch.Tensor) -> "_MemberRows":
        """What the update reads of the members ``members`` (an index tensor)."""
        return _MemberRows(self.inputs.select(members), self.action_mask.index_select(0, members),
                           self.actions.index_select(0, members), self.targets.index_select(0, members))


@dataclass(frozen=True)
class _MemberRows:
    """The decisions of some members as the update reads them (:meth:`StackedRollout.select`)."""

    inputs: StackedInputs
    action_mask: torch.Tensor
    actions: torch.Tensor
    targets: torch.Tensor


@dataclass(frozen=True)
class _Coefficients:
    """The per-member constants of the update, of some members (rows in member order)."""

    clip: torch.Tensor  # (G, 1) ε
    clip_low: torch.Tensor  # (G, 1) 1 − ε
    clip_high: torch.Tensor  # (G, 1) 1 + ε
    loss: torch.Tensor  # (G, 3) 1, −c_H, ½·c_V
    entropy: torch.Tensor  # (G, 1, 1) c_H
    value: torch.Tensor  # (G, 1) c_V

    def select(self, members: torch.Tensor) -> "_Coefficients":
        return _Coefficients(*(getattr(self, f.name).index_select(0, members) for f in dataclasses.fields(self)))


@dataclass(frozen=True)
class _WidthGroup:
    """Members whose minibatches have one width (:func:`minibatch_width`): one stacked pass."""

    width: int
    members: torch.Tensor | None  # None: every member of the ensemble
    rows: StackedRollout | _MemberRows
    coef: _Coefficients


def _take(inputs: StackedInputs, rows: torch.Tensor) -> StackedInputs:
    """Rows ``rows (K, M)`` of every member's inputs."""
    x = inputs.indices if inputs.indices is not None else inputs.dense
    picked = x.gather(1, rows.unsqueeze(2).expand(-1, -1, x.shape[2]))
    return StackedInputs(indices=picked) if inputs.indices is not None else StackedInputs(dense=picked)


def _stored(net, i: int, members: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Layer ``i``'s ``(W, b)`` as stored (each member's slice padded to whole Adam vectors), of
    ``members`` (copies) or of every member (the parameters themselves)."""
    w, b = getattr(net, f"weight{i}"), getattr(net, f"bias{i}")
    if members is None:
        return w, b
    return w.index_select(0, members), b.index_select(0, members)


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
        for p in self.policy_net.parameters():  # written in place by every update (ppo_gradients); padding stays 0
            p.grad = torch.zeros_like(p)

        col = lambda name, dtype=torch.float32: torch.tensor([getattr(c, name) for c in configs], dtype=dtype, device=dev)
        clip = col("clip").view(k, 1)
        self._coef = _Coefficients(
            clip=clip, clip_low=1 - clip, clip_high=1 + clip,
            loss=torch.stack([torch.ones(k, device=dev), -col("entropy_coef"), 0.5 * col("value_coef")], dim=1),
            entropy=col("entropy_coef").view(k, 1, 1), value=col("value_coef").view(k, 1),
        )
        self._lambda = col("gae_lambda")
        self._normalize = col("normalize_advantages", torch.bool).view(k, 1)
        self._max_norm = torch.tensor([float("inf") if c.max_grad_norm is None else c.max_grad_norm for c in configs], device=dev)

        self._horizon = env.max_moves + 1  # T1: every batch is padded to max_moves moves
        # GAE's discount matrix of each member, computed member by member (pow is elementwise)
        self._discount = torch.stack([gae_discount(float(c.gae_lambda), self._horizon, torch.float32, dev) for c in configs])
        states = env.all_states()
        self._n_states = states.shape[0]
        self._all_inputs = self.featurizer(states.unsqueeze(0).expand(k, *states.shape))
        self._all_fmask = env.forward_mask(states)
        rewards = env.reward(states)
        self._all_rewards = rewards.double()
        self._reward_table = rewards.to(torch.float32)  # R(x) by state index (the same bits for every member)
        sampling_mask = self._all_fmask.clone()
        sampling_mask[:, env.stop_action] |= ~sampling_mask.any(dim=1)  # forced terminal: only "stop" (never taken)
        self._sampling_mask = sampling_mask
        self.table_mode = table_mode_of(env, base.batch_size)
        if self.table_mode:
            self._graph = state_graph(env)
            self._child = transition_table(self._graph)
            self._table_mask = sampling_mask.repeat(k, 1)  # (K·S, A): row k·S + s
        self.rnd_on_states = rnd_on_states(env, base.batch_size)
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

    def _cache_rnd_targets(self) -> None:
        all_states = self.env.all_states()
        self.rnd.cache_targets(self.featurizer(all_states.unsqueeze(0).expand(len(self.rnd_members), *all_states.shape)))

    # ------------------------------------------------------------------ roll-out
    @torch.no_grad()
    def sample(self) -> tuple[Trajectories, torch.Tensor, torch.Tensor]:
        """``K·B`` trajectories padded to ``max_moves`` moves (member ``k``: rows ``k·B … k·B+B−1``),
        each from its own generator, with the old policy's ``log π(·|s) (K, B·T1, A)`` and
        ``V(s) (K, B·T1)`` at every position (trajectory-major)."""
        c, env, k, a = self.config, self.env, self.n_members, self.n_actions
        batch, t1 = c.batch_size, self._horizon
        uniforms = draw_uniforms(self.generators, batch, env.max_moves + 1, self.device)
        if self.table_mode:
            n = self._n_states
            out = self.policy_net.net.forward_inputs(self._all_inputs)  # (K, S, A+1)
            logits, values = out[..., :a], out[..., a]
            probs = action_probabilities(logits.reshape(k * n, a), self._table_mask, 0.0, 1.0)
            traj = sample_from_tables(self._graph, self._child, probs, self._table_mask, k, batch, uniforms, pad_to=env.max_moves)
            index = env.index(traj.states.reshape(k * batch * t1, -1)).view(k, batch * t1)
            log_pi = masked_log_softmax(logits, self._all_fmask.unsqueeze(0))  # (K, S, A), rows: softmax per row
            self.last_step_rows = {"sample": k * n}
            return traj, log_pi.gather(1, index.unsqueeze(2).expand(-1, -1, a)), values.gather(1, index)
        outputs = []

        def logits_of(states: torch.Tensor) -> torch.Tensor:  # every trajectory, every move: (K, B) rows
            out = self.policy_net.net.forward_inputs(self.featurizer(states))
            outputs.append(out)
            return out[..., :a]

        traj = sample_ensemble(env, logits_of, k, batch, uniforms, pad_to=env.max_moves)
        # move t's outputs are those of position t (rows that had finished: never a decision)
        out = torch.stack(outputs, dim=2)  # (K, B, moves, A+1)
        out = torch.cat([out, out.new_zeros(k, batch, t1 - out.shape[2], a + 1)], dim=2).view(k, batch * t1, a + 1)
        index = env.index(traj.states.reshape(k * batch * t1, -1))
        log_pi = masked_log_softmax(out[..., :a], self._all_fmask[index].view(k, batch * t1, a))
        self.last_step_rows = {"sample": k * batch * len(outputs)}
        return traj, log_pi, out[..., a]

    def _collect_all(self) -> StackedRollout:
        env, k, batch = self.env, self.n_members, self.config.batch_size
        dev, t1 = self.device, self._horizon
        traj, pos_log_pi, pos_values = self.sample()
        kb = traj.states.shape[0]
        n_rows = batch * t1
        lengths, forced = traj.lengths, traj.forced
        pos = torch.arange(t1, device=dev)
        is_move = pos < lengths.unsqueeze(1)  # (KB, T1)
        is_stop = (pos == lengths.unsqueeze(1)) & ~forced.unsqueeze(1)
        decision = (is_move | is_stop).view(k, n_rows)
        last = lengths - forced.long()  # each trajectory's final decision
        moves = torch.cat([traj.actions, traj.actions.new_full((kb, 1), -1)], dim=1)
        actions = torch.where(is_move, moves, torch.full_like(moves, env.stop_action)).view(k, n_rows)
        pos_index = env.index(traj.states.reshape(kb * t1, -1)).view(k, n_rows)

        # every member's decisions first (in order), then its first decision again: B·T1 rows each
        n_dec = decision.sum(dim=1)
        n_list = n_dec.tolist()
        order = torch.sort((~decision).to(torch.uint8), dim=1, stable=True).indices
        valid = torch.arange(n_rows, device=dev).unsqueeze(0) < n_dec.unsqueeze(1)
        order = torch.where(valid, order, order[:, :1])
        dec_index = pos_index.gather(1, order)
        dec_states = traj.states.reshape(k, n_rows, -1).gather(1, order.unsqueeze(2).expand(-1, -1, traj.states.shape[2]))
        dec_actions = actions.gather(1, order)
        dec_inputs = self.featurizer(dec_states)
        dec_fmask = self._all_fmask[dec_index]  # (K, N, A)
        log_prob_old = pos_log_pi.gather(1, order.unsqueeze(2).expand(-1, -1, self.n_actions))
        log_prob_old = log_prob_old.gather(2, dec_actions.unsqueeze(2)).squeeze(2)
        values = pos_values.view(k, batch, t1)

        final = pos_index.view(kb, t1).gather(1, lengths.unsqueeze(1)).squeeze(1)
        extrinsic = self._reward_table[final]  # (KB,) R(x), not its log
        rewards = torch.zeros(kb, t1, device=dev).scatter_(1, last.unsqueeze(1), extrinsic.unsqueeze(1)).view(k, batch, t1)
        mean_reward = extrinsic.view(k, batch).mean(dim=1).tolist()
        mean_length = lengths.view(k, batch).float().mean(dim=1).tolist()
        infos = [{"mean_reward": r, "mean_length": l} for r, l in zip(mean_reward, mean_length)]
        rnd_rows = 0
        if self.rnd is not None:
            visited = (pos <= lengths.unsqueeze(1)).view(k, n_rows)
            rewards, rnd_rows = self._rnd_bonus(traj, pos_index, visited, rewards, is_move.view(k, batch, t1), infos)

        advantages = gae_advantages_stacked(rewards, values, last.view(k, batch), self._lambda, discount=self._discount)
        returns = (advantages + values).view(k, n_rows).gather(1, order)
        advantages = advantages.view(k, n_rows).gather(1, order)
        w = valid.to(advantages.dtype)
        count = n_dec.to(advantages.dtype).unsqueeze(1)
        mean = (advantages * w).sum(dim=1, keepdim=True) / count
        std = (((advantages - mean) ** 2 * w).sum(dim=1, keepdim=True) / count).sqrt()
        advantages = torch.where(self._normalize, (advantages - mean) / (std + 1e-8), advantages)
        self.last_step_rows["rnd"] = rnd_rows
        return StackedRollout(
            states=dec_states, inputs=dec_inputs, action_mask=dec_fmask, actions=dec_actions, log_prob_old=log_prob_old,
            advantages=advantages, returns=returns, valid=valid, n_decisions=n_list, terminal=traj.terminal, infos=infos,
            targets=torch.stack([log_prob_old, advantages, returns], dim=2),
        )

    def _rnd_bonus(self, traj: Trajectories, pos_index: torch.Tensor, visited: torch.Tensor, rewards: torch.Tensor,
                   is_move: torch.Tensor, infos: list[dict]) -> tuple[torch.Tensor, int]:
        """Add ``η_k·‖f̂_k(s_{t+1}) − f_k(s_{t+1})‖₂`` to every move of the RND members and take one
        Adam step of their predictors on the mean error over the visited positions ``s_0 … s_n``.

        The predictor reads every state (weighted by its visits) or every position (weight 1 up to
        the trajectory's end, 0 after), whichever has fewer rows (:func:`rnd_on_states`): the same
        rows for a member alone or in any ensemble."""
        k, batch, t1 = self.n_members, self.config.batch_size, self._horizon
        sel = self._rnd_index
        index = pos_index.index_select(0, sel)  # (K_r, B·T1)
        seen = visited.index_select(0, sel)
        if self.rnd_on_states:
            rows = torch.arange(self._n_states, device=self.device).expand(len(self.rnd_members), -1)
            inputs = self._all_inputs.select(sel)
            weight = torch.zeros(rows.shape, device=self.device).scatter_add_(1, index, seen.to(torch.float32))
        else:
            rows = index
            inputs = self.featurizer(traj.states.view(k, batch * t1, -1).index_select(0, sel))
            weight = seen.to(torch.float32)
        err = self.rnd.errors(inputs, rows)  # (K_r, L), differentiable w.r.t. the predictors
        n_visited = weight.sum(dim=1)
        losses = (err * weight).sum(dim=1) / n_visited
        self.rnd_optimizer.zero_grad(set_to_none=True)
        losses.sum().backward()
        self.rnd_optimizer.step()
        bonus_rows = self.rnd.eta * err.detach()
        bonus = (bonus_rows.gather(1, index) if self.rnd_on_states else bonus_rows).view(-1, batch, t1)
        child = torch.cat([bonus[..., 1:], torch.zeros_like(bonus[..., :1])], dim=2)  # move t: the bonus of s_{t+1}
        rewards = rewards.index_add(0, sel, child * is_move.index_select(0, sel))
        mean_bonus = ((bonus_rows * weight).sum(dim=1) / n_visited).tolist()
        for j, (member, loss) in enumerate(zip(self.rnd_members, losses.detach().tolist())):
            infos[member].update(rnd_loss=loss, mean_intrinsic=mean_bonus[j])
        return rewards, err.numel()

    def collect(self) -> StackedRollout:
        """Sample every member's trajectories and score every decision (steps 1–3 of the module docstring)."""
        return self._collect_all()

    # ------------------------------------------------------------------ update
    def minibatches(self, n_decisions: Sequence[int], n_max: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One epoch's minibatches: ``(rows (m, K, M), weight (m, K, M))`` with ``M`` the widest
        member's :func:`minibatch_width`. Member ``k`` permutes its ``N_k`` decisions with its own
        generator and cuts the permutation into ``m`` consecutive chunks as ``torch.tensor_split``
        does (the first ``N_k mod m`` one longer); ``weight`` is ``1/|chunk|`` on the chunk's rows and
        0 on padding rows (which repeat the chunk's first row), so ``Σ_rows weight · x`` is the mean of
        ``x`` over exactly the member's own decisions. Its first ``minibatch_width(N_k, m)`` columns
        are what training reads (``n_max`` is ignored; kept for callers of the earlier signature)."""
        k, m, dev = self.n_members, self.config.n_minibatches, self.device
        width = max(minibatch_width(n, m) for n in n_decisions)
        perms = torch.zeros(k, max(n_decisions), dtype=torch.long, device=dev)
        for i, (g, n) in enumerate(zip(self.generators, n_decisions)):
            perms[i, :n] = torch.randperm(n, generator=g, device=dev)
        n = torch.tensor(list(n_decisions), device=dev)
        j = torch.arange(m, device=dev)
        sizes = (n // m).unsqueeze(1) + (j < (n % m).unsqueeze(1)).long()  # (K, m)
        starts = torch.cumsum(sizes, dim=1) - sizes
        r = torch.arange(width, device=dev)
        valid = r < sizes.unsqueeze(2)  # (K, m, M)
        pos = torch.where(valid, starts.unsqueeze(2) + r, starts.unsqueeze(2))
        rows = perms.gather(1, pos.view(k, m * width)).view(k, m, width)
        weight = valid.to(torch.float32) / sizes.unsqueeze(2).to(torch.float32)
        return rows.transpose(0, 1), weight.transpose(0, 1)

    def width_groups(self, rollout: StackedRollout) -> list[_WidthGroup]:
        """The members grouped by :func:`minibatch_width` (in increasing width, members in order):
        each group is one stacked pass of the update, of exactly its members' widths."""
        m = self.config.n_minibatches
        by_width: dict[int, list[int]] = {}
        for member, n in enumerate(rollout.n_decisions):
            by_width.setdefault(minibatch_width(n, m), []).append(member)
        if len(by_width) == 1:
            (width,) = by_width
            return [_WidthGroup(width, None, rollout, self._coef)]
        groups = []
        for width in sorted(by_width):
            members = torch.tensor(by_width[width], dtype=torch.long, device=self.device)
            groups.append(_WidthGroup(width, members, rollout.select(members), self._coef.select(members)))
        return groups

    def minibatch_gradients(self, rollout: StackedRollout, rows: torch.Tensor, weight: torch.Tensor,
                            groups: list[_WidthGroup] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Every member's gradient of one minibatch (``rows``, ``weight`` of :meth:`minibatches`) as
        training computes it: one :meth:`ppo_gradients` pass per width group, each member on its
        own width. Returns ``(L (K,), diagnostics (K, 5))``."""
        if groups is None:
            groups = self.width_groups(rollout)
        if len(groups) == 1 and groups[0].members is None:
            w = groups[0].width
            return self._gradients(rollout, rows[:, :w], weight[:, :w].contiguous(), None, self._coef)
        losses = torch.zeros(self.n_members, device=self.device)
        diagnostics = torch.zeros(self.n_members, len(DIAGNOSTICS), device=self.device)
        for group in groups:
            w = group.width
            g_rows = rows.index_select(0, group.members)[:, :w]
            g_weight = weight.index_select(0, group.members)[:, :w].contiguous()
            loss, diag = self._gradients(group.rows, g_rows, g_weight, group.members, group.coef)
            losses.index_copy_(0, group.members, loss)
            diagnostics.index_copy_(0, group.members, diag)
        return losses, diagnostics

    def ppo_losses(self, rollout: StackedRollout, rows: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Every member's clipped PPO loss ``L_k`` on its minibatch (module docstring, step 4), by
        autograd (the reference of :meth:`ppo_gradients`): ``(L (K,), diagnostics (K, 5))`` in the
        order of :data:`DIAGNOSTICS`. ``rows (K, M)`` index the rollout's decisions; ``weight (K, M)``
        is ``1/|I_k|`` on member ``k``'s real rows and 0 on padding (:meth:`minibatches`), so every
        mean is over the member's own decisions."""
        a, coef = self.n_actions, self._coef
        out = self.policy_net.net.forward_inputs(_take(rollout.inputs, rows))  # (K, M, A+1)
        logits, values = out[..., :a], out[..., a]
        amask = rollout.action_mask.gather(1, rows.unsqueeze(2).expand(-1, -1, a))
        log_probs = masked_log_softmax(logits, amask)
        log_prob = log_probs.gather(2, rollout.actions.gather(1, rows).unsqueeze(2)).squeeze(2)
        old, adv, ret = rollout.targets.gather(1, rows.unsqueeze(2).expand(-1, -1, 3)).unbind(2)
        log_ratio = log_prob - old
        ratio = log_ratio.exp()
        policy = clipped_surrogate(ratio, adv, coef.clip_low, coef.clip_high)
        entropy = -(log_probs.exp() * log_probs).sum(dim=2)  # invalid actions: p = 0 exactly
        squared = (values - ret).pow(2)
        means = (torch.stack([policy, entropy, squared], dim=1) * weight.unsqueeze(1)).sum(dim=2)  # (K, 3)
        losses = (means * coef.loss).sum(dim=1)  # policy − c_H·entropy + c_V·½·squared error
        with torch.no_grad():
            extra = torch.stack([(ratio - 1) - log_ratio, ((ratio - 1).abs() > coef.clip).to(out.dtype)], dim=1)
            kl, clip_fraction = (extra * weight.unsqueeze(1)).sum(dim=2).unbind(1)
            diagnostics = torch.stack([means[:, 0], 0.5 * means[:, 2], means[:, 1], kl, clip_fraction], dim=1)
        return losses, diagnostics

    def ppo_gradients(self, rollout: StackedRollout, rows: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`ppo_losses` with the gradient of ``Σ_k L_k`` written by hand into the parameters'
        ``.grad``, every member on the same ``rows (K, M)`` (training groups the members by width:
        :meth:`minibatch_gradients`). Returns the same ``(L (K,), diagnostics (K, 5))``."""
        return self._gradients(rollout, rows, weight, None, self._coef)

    @torch.no_grad()
    def _gradients(self, source: StackedRollout | _MemberRows, rows: torch.Tensor, weight: torch.Tensor,
                   members: torch.Tensor | None, coef: _Coefficients) -> tuple[torch.Tensor, torch.Tensor]:
        """The hand-written gradient of ``Σ_k L_k`` over ``members`` (``None``: all), whose decisions
        ``source`` holds, written into those members' slices of the parameters' ``.grad`` (no
        autograd graph: a minibatch is ~100 tiny operations, so the update is bound by their count).

        With ``p = π(·|s)``, ``ℓ`` the logits, ``a`` the action, ``w`` the row's weight and the
        coefficients of member ``k``:

        - policy term ``−min(A ρ, A clip(ρ))``: ``∂/∂ log π(a|s) = −A ρ`` where ``A ρ`` is the
          smaller term or ``1−ε ≤ ρ ≤ 1+ε``, else 0 (:func:`~gafn_lib.baselines.ppo_core.clipped_surrogate`
          with ``grad=True``); and ``∂ log π(a|s)/∂ℓ = onehot(a) − p``;
        - entropy ``H = −Σ p log p``: ``∂H/∂ℓ = −p (log p + H)`` (0 on invalid actions, ``p = 0``);
        - value term ``c_V · ½ (V − G)²``: ``∂/∂V = c_V (V − G)``;

        then back through the layers: ``∂W_i = a_{i−1}ᵀ δ_i``, ``∂b_i = Σ_rows δ_i``,
        ``δ_{i−1} = (δ_i W_iᵀ) ⊙ leaky'(z_{i−1})``; the one-hot first layer adds each row's ``δ_0``
        to the rows of ``W_0`` its active indices select (in the member's own row order).
        """
        net, a = self.policy_net.net, self.n_actions
        for p in net.parameters():
            if p.grad is None:  # (e.g. after a zero_grad(set_to_none=True))
                p.grad = torch.zeros_like(p)
        inputs = _take(source.inputs, rows)
        k, m_rows = rows.shape
        sizes = net.sizes
        weights = [_stored(net, i, members) for i in range(net.n_layers)]
        # forward, keeping the pre-activations z_i and the activations a_i
        w0, b0 = weights[0]
        if inputs.indices is not None:  # a gather and a sum (as StackedMLP.forward_onehot)
            fan_in = w0.shape[1]
            flat = (inputs.indices + torch.arange(k, device=rows.device).view(-1, 1, 1) * fan_in).view(k * m_rows, -1)
            gathered = w0.reshape(k * fan_in, -1).index_select(0, flat.view(-1)).view(k * m_rows, flat.shape[1], -1).sum(dim=1)
            z = gathered.view(k, m_rows, -1)[..., : sizes[1]] + b0[..., : sizes[1]]
        else:
            z = torch.baddbmm(b0[..., : sizes[1]], inputs.dense, w0[..., : sizes[1]])
        pre, acts = [z], []
        for i in range(1, net.n_layers):
            act = torch.nn.functional.leaky_relu(pre[-1])
            acts.append(act)
            w, b = weights[i]
            pre.append(torch.baddbmm(b[..., : sizes[i + 1]], act, w[..., : sizes[i + 1]]))
        out = pre.pop()
        logits, values = out[..., :a], out[..., a]

        amask = source.action_mask.gather(1, rows.unsqueeze(2).expand(-1, -1, a))
        log_probs = masked_log_softmax(logits, amask)
        probs = log_probs.exp()
        actions = source.actions.gather(1, rows).unsqueeze(2)
        log_prob = log_probs.gather(2, actions).squeeze(2)
        old, adv, ret = source.targets.gather(1, rows.unsqueeze(2).expand(-1, -1, 3)).unbind(2)
        log_ratio = log_prob - old
        ratio = log_ratio.exp()
        policy, d_policy = clipped_surrogate(ratio, adv, coef.clip_low, coef.clip_high, grad=True)
        entropy = -(probs * log_probs).sum(dim=2)
        diff = values - ret
        terms = torch.stack([policy, entropy, diff.pow(2), (ratio - 1) - log_ratio, ((ratio - 1).abs() > coef.clip).to(out.dtype)], dim=1)
        means = (terms * weight.unsqueeze(1)).sum(dim=2)  # (K, 5): each a row-wise sum over the member's own rows
        losses = (means[:, :3] * coef.loss).sum(dim=1)
        diagnostics = torch.stack([means[:, 0], 0.5 * means[:, 2], means[:, 1], means[:, 3], means[:, 4]], dim=1)

        # ∂(Σ_k L_k)/∂out; ∂(policy term)/∂ log π(a|s) from clipped_surrogate
        wu = weight.unsqueeze(2)
        d_log_prob = d_policy * weight  # (K, M)
        d_logits = d_log_prob.unsqueeze(2) * (-probs).scatter_add_(2, actions, torch.ones_like(actions, dtype=probs.dtype))
        d_logits += coef.entropy * wu * probs * (log_probs + entropy.unsqueeze(2))
        d_values = coef.value * weight * diff
        delta = torch.cat([d_logits, d_values.unsqueeze(2)], dim=2)

        # back through the layers, into the members' slices of the parameters' gradients
        def write(i: int, d_w: torch.Tensor, d_b: torch.Tensor) -> None:
            out_i = sizes[i + 1]
            g_w, g_b = getattr(net, f"weight{i}").grad[..., :out_i], getattr(net, f"bias{i}").grad[..., :out_i]
            if members is None:
                g_w.copy_(d_w)
                g_b.copy_(d_b)
            else:
                g_w.index_copy_(0, members, d_w)
                g_b.index_copy_(0, members, d_b)

        for i in range(net.n_layers - 1, 0, -1):
            w = weights[i][0][..., : sizes[i + 1]]
            write(i, torch.bmm(acts[i - 1].transpose(1, 2), delta), delta.sum(dim=1, keepdim=True))
            delta = torch.ops.aten.leaky_relu_backward(torch.bmm(delta, w.transpose(1, 2)), pre[i - 1], 0.01, False)
        if inputs.indices is not None:
            table = delta.new_zeros(k * w0.shape[1], sizes[1])
            rows_grad = delta.reshape(k * m_rows, -1)
            for j in range(flat.shape[1]):  # each one-hot block: add every row's δ_0 at its index, in row order
                table.index_add_(0, flat[:, j], rows_grad)
            d_w0 = table.view(k, w0.shape[1], sizes[1])
        else:
            d_w0 = torch.bmm(inputs.dense.transpose(1, 2), delta)
        write(0, d_w0, delta.sum(dim=1, keepdim=True))
        return losses, diagnostics

    def clip_gradients(self) -> torch.Tensor:
        """Scale each member's gradient to at most its ``max_grad_norm`` (its own global norm over
        all of its tensors, the padding's zeros included); returns the norms before clipping
        ``(K,)``. Both norms are row-wise reductions over a member's own values."""
        grads = [p.grad for p in self.policy_net.parameters() if p.grad is not None]
        k = self.n_members
        per_tensor = torch.stack([torch.linalg.vector_norm(g.reshape(k, -1), dim=1) for g in grads], dim=1)  # (K, n_tensors)
        norms = torch.linalg.vector_norm(per_tensor, dim=1)
        coef = (self._max_norm / (norms + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(coef.view(k, *([1] * (g.dim() - 1))))
        return norms

    def _update_all(self, rollout: StackedRollout) -> list[dict[str, float]]:
        c = self.config
        sums = torch.zeros(self.n_members, len(DIAGNOSTICS), device=self.device)
        groups = self.width_groups(rollout)
        train_rows = sum(g.width * (self.n_members if g.members is None else g.members.numel()) for g in groups)
        for _ in range(c.epochs):
            rows, weight = self.minibatches(rollout.n_decisions)
            for j in range(c.n_minibatches):
                _, diagnostics = self.minibatch_gradients(rollout, rows[j], weight[j], groups)
                self.clip_gradients()
                self.optimizer.step()
                sums += diagnostics
        self.last_step_rows["train"] = train_rows * c.epochs * c.n_minibatches
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
        state = self._members_state()
        if self.rnd is not None:
            state["rnd"] = self.rnd.state_dict()
            state["rnd_optimizer"] = self.rnd_optimizer.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        if ("rnd" in state) != (self.rnd is not None):
            raise ValueError("the checkpoint and this trainer disagree on which members use RND")
        self._load_members_state(state)
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
