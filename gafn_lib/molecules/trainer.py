"""GFlowNets and GAFlowNets on molecules (fragment MDP + sEH proxy), paper §4.

One training step, top to bottom:

1. sample ``batch_size`` trajectories (ε-uniform exploration; one policy call per iteration);
2. score the finished molecules with the proxy (cached), ``log R(x)`` by the reward transform;
3. ONE policy call on every distinct visited state (and, for FM, every parent);
4. intrinsic reward ``r(s) = η·‖f̂(g(s)) − f(g(s))‖₂`` of every non-initial state from its graph
   embedding ``g(s)`` (detached), and the RND predictor's loss;
5. :func:`gafn_lib.core.augment.augment` → the objective's loss (FM / TB / DB / SubTB);
6. one Adam step; every ``log_every`` steps a metrics row: top-10 reward, modes (> 7.5), top-10
   Tanimoto similarity, molecules generated, wall seconds.

The terminal intrinsic bonus ``r(x)`` is computed on the *finished* molecule ``x = s_n``.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from gafn_lib.core.augment import AUGMENT_MODES, augment
from gafn_lib.envs.fragment_batch import encode_states
from gafn_lib.envs.fragments import FragmentMDP
from gafn_lib.envs.mol_reward import MOL_REWARDS, MolReward
from gafn_lib.envs.sehproxy import SEHProxy
from gafn_lib.core.history import History
from gafn_lib.core.intrinsic import RND, ZeroIntrinsic
from gafn_lib.core.loop import Trainer
from gafn_lib.molecules.config import MolFields
from gafn_lib.molecules.metrics import MODE_SCORE_THRESHOLD, mean_pairwise_tanimoto
from gafn_lib.molecules.graph_rnd import GraphRND
from gafn_lib.molecules.policy import BlockGraphPolicy
from gafn_lib.molecules.scoring import StateScorer, score_molecules
from gafn_lib.molecules.sampling import (
    MolTrajectories, draw_early_stops, flow_matching_terms, fm_parents, forward_batch, sample_mol_trajectories, trajectory_terms,
)
from gafn_lib.core.objectives import OBJECTIVES, db_loss, fm_loss, subtb_loss, tb_loss
from gafn_lib.core.runtime import configure_threads, keep_freed_memory, resolve_device, seed_everything
from gafn_lib.core.terms import NEG_INF
from gafn_lib.core.validation import check_counts, check_positive, check_unit_interval

MOL_INTRINSIC = ("rnd", "none")
RND_FEATURES = ("fixed", "policy", "graph")
TERMINAL_BONUS = ("paper", "release")
MOL_DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass(frozen=True)
class MolTrainConfig(MolFields):
    """A (GA)FlowNet run on molecules. Defaults are the paper's molecule setting (§4).

    Attributes:
        objective: ``"fm"`` (paper), ``"tb"``, ``"db"`` or ``"subtb"``.
        augment: ``"joint"`` (GAFlowNet), ``"edge"``, ``"node"`` or ``"none"`` (plain GFlowNet).
        intrinsic: ``"rnd"`` or ``"none"``; ``None`` picks ``"rnd"`` unless ``augment == "none"``.
        eta: RND coefficient η in ``r = η·‖f̂ − f‖₂`` on graph embeddings (paper 0.1).
        rnd_features: which graph embedding RND reads: ``"fixed"`` (default), a frozen, randomly
            initialised copy of the block-graph network — stationary inputs, so the novelty of
            visited states decays as Theorem 1 needs; ``"policy"``, the policy's own (detached)
            embedding, which drifts as the policy trains and keeps the novelty from decaying; or
            ``"graph"``, the public release's RND: target and predictor are both block-graph networks
            on the raw state graph, the predictor trained end to end (:mod:`gafn_lib.molecules.graph_rnd`).
        terminal: the intrinsic term of a finished molecule ``x`` (joint augmentation only):
            ``"paper"`` (default) ``R̃(x) = R(x) + r(x)`` and ``r(x)`` also leaks at ``x`` (the paper's
            equation); ``"release"``: the stop transition's target is ``R(x) + r(s_0)``, the RND of the
            *empty* molecule (the release stores the stop state as ``None``), ``x``'s own novelty entering
            only as its out-flow leak; a forced-terminal ``x`` gets ``R(x) + r(x)`` once.
        log_reg_c: FM only: ``c`` inside both logs of every flow-matching term (release 2.5e-5; 0 = none).
        leaf_coef: FM only: balanced loss ``leaf_coef · mean(terminal terms) + mean(other terms)``
            (release 10; ``None`` = one mean over all terms). See :func:`gafn_lib.core.objectives.fm_loss`.
        early_stop_reg: probability that a trajectory stops at a length drawn uniformly from
            ``{min_blocks, …, max_blocks}`` (release 0.1, our default: notebook 06 gives the
            measurement; 0 = none), see :func:`draw_early_stops`.
        dtype: ``"float32"`` (default) or ``"float64"`` (the release's ``floatX``; FM only) for the
            networks and the loss.
        epsilon: probability of a uniformly random valid action (paper 0.05).
        lr: Adam learning rate of the policy and RND predictor (paper 5e-4).
        lr_logz: learning rate of ``log Z`` (TB/DB/SubTB only).
        batch_size: trajectories per step (paper 4). n_steps: training steps (paper 250 000).
        min_blocks, max_blocks: molecule size in blocks (2, 8).
        reward: ``"sparse"`` (paper: ``(s/8)^10`` if ``s > 7`` else 1e-9) or ``"dense"``.
        reward_threshold, reward_normaliser, reward_exponent, reward_floor: see :class:`MolReward`.
        hidden, n_rounds: block-graph network width (128) and message-passing rounds (3).
        subtb_lambda: λ of SubTB(λ).
        log_every: metrics every this many steps (and at the last step). top_k: top-k for metrics.
        seed, device, threads: see :mod:`gafn_lib.core.runtime`.
    """

    objective: str = "fm"
    augment: str = "joint"
    intrinsic: str | None = None
    eta: float = 0.1
    rnd_features: str = "fixed"
    terminal: str = "paper"
    log_reg_c: float = 0.0
    leaf_coef: float | None = None
    early_stop_reg: float = 0.1
    dtype: str = "float32"
    epsilon: float = 0.05
    lr: float = 5e-4
    lr_logz: float = 0.1
    batch_size: int = 4
    n_steps: int = 250_000
    subtb_lambda: float = 0.9
    log_every: int = 500
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None

    def __post_init__(self) -> None:
        for name, allowed in (("objective", OBJECTIVES), ("augment", AUGMENT_MODES), ("reward", MOL_REWARDS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {tuple(allowed)}, got {getattr(self, name)!r}")
        if self.intrinsic is None:
            object.__setattr__(self, "intrinsic", "none" if self.augment == "none" else "rnd")
        if self.rnd_features not in RND_FEATURES:
            raise ValueError(f"rnd_features must be one of {RND_FEATURES}, got {self.rnd_features!r}")
        for name, allowed in (("terminal", TERMINAL_BONUS), ("dtype", tuple(MOL_DTYPES))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.terminal == "release" and self.augment != "joint":
            raise ValueError(f"terminal='release' changes the joint augmentation's terminal term; it needs augment='joint', got {self.augment!r}")
        if self.objective != "fm":
            for name, off in (("log_reg_c", 0.0), ("leaf_coef", None), ("dtype", "float32")):
                if getattr(self, name) != off:
                    raise ValueError(f"{name}={getattr(self, name)!r} is a flow-matching option; objective={self.objective!r} needs {name}={off!r}")
        check_positive("log_reg_c", self.log_reg_c, strict=False)
        if self.leaf_coef is not None:
            check_positive("leaf_coef", self.leaf_coef)
        check_unit_interval("early_stop_reg", self.early_stop_reg)
        if self.intrinsic not in MOL_INTRINSIC:
            raise ValueError(f"intrinsic must be one of {MOL_INTRINSIC} for molecules, got {self.intrinsic!r}")
        if self.augment != "none" and self.intrinsic == "none":
            raise ValueError(f"augment={self.augment!r} needs intrinsic='rnd' (or set augment='none')")
        if self.augment == "none" and self.intrinsic != "none":
            raise ValueError(f"intrinsic={self.intrinsic!r} has no effect with augment='none'")
        self.check_mol_fields()
        check_counts(self, ("batch_size", "n_steps", "log_every"))
        check_unit_interval("epsilon", self.epsilon)
        for name in ("lr", "lr_logz", "subtb_lambda"):
            check_positive(name, getattr(self, name))
        check_positive("eta", self.eta, strict=False)



#: Width of the fixed-width unicode array of SMILES in :meth:`MolMetricsTracker.artifacts`.
SMILES_WIDTH = 200


class MolMetricsTracker:
    """Every unique molecule generated so far with its proxy score and reward (plain containers)."""

    def __init__(self, top_k: int = 10) -> None:
        self.top_k = top_k
        self.molecules: dict[str, tuple[float, float]] = {}  # SMILES → (score, reward)
        self.n_generated = 0

    def record(self, smiles: list[str], scores: np.ndarray, rewards: np.ndarray) -> None:
        self.n_generated += len(smiles)
        for s, sc, r in zip(smiles, scores, rewards):
            self.molecules[s] = (float(sc), float(r))

    def row(self) -> dict[str, float]:
        top = heapq.nlargest(self.top_k, self.molecules.items(), key=lambda kv: (kv[1][1], kv[1][0], kv[0]))  # reward, then score
        return {
            "top10_reward": float(np.mean([v[1] for _, v in top])) if top else math.nan,
            "top10_score": float(np.mean([v[0] for _, v in top])) if top else math.nan,
            "n_modes": sum(1 for sc, _ in self.molecules.values() if sc > MODE_SCORE_THRESHOLD),
            "top10_tanimoto": mean_pairwise_tanimoto([s for s, _ in top]),
            "molecules_generated": self.n_generated,
            "unique_molecules": len(self.molecules),
        }

    def artifacts(self, k: int = 100) -> dict[str, np.ndarray]:
        """The ``k`` best unique molecules as arrays (no pickles), best first (reward, then score, then
        SMILES): ``top_smiles`` (fixed-width unicode), ``top_scores`` and ``top_rewards`` (float64)."""
        ranked = sorted(self.molecules.items(), key=lambda kv: (-kv[1][1], -kv[1][0], kv[0]))[:k]
        return {
            "top_smiles": np.array([s for s, _ in ranked], dtype=f"<U{SMILES_WIDTH}"),
            "top_scores": np.array([v[0] for _, v in ranked], dtype=np.float64),
            "top_rewards": np.array([v[1] for _, v in ranked], dtype=np.float64),
        }

    def state_dict(self) -> dict:
        return {"smiles": list(self.molecules), "values": [list(v) for v in self.molecules.values()], "n": self.n_generated}

    def load_state_dict(self, state: dict) -> None:
        self.molecules = {s: (float(v[0]), float(v[1])) for s, v in zip(state["smiles"], state["values"])}
        self.n_generated = int(state["n"])


class MoleculeTrainer(Trainer):
    """What every molecule trainer shares (GFlowNets, PPO, MARS): a :class:`MolMetricsTracker` as
    ``tracker``, its metric rows, and its best molecules as the run's stored arrays."""

    tracker: MolMetricsTracker

    def _setup(self, config, proxy: SEHProxy | None, mdp: FragmentMDP | None) -> None:
        """Construction every molecule trainer starts with: threads, seed, device, the MDP (or the
        given one, which must match the config), the proxy (or the given one), the reward, the
        block-graph network, and empty tracker, history and counters."""
        self.config = config
        configure_threads(config.threads)
        keep_freed_memory()  # freed activation blocks are reused, not page-faulted in again
        seed_everything(config.seed)
        self.device = resolve_device(config.device)
        self.mdp = mdp if mdp is not None else FragmentMDP(min_blocks=config.min_blocks, max_blocks=config.max_blocks)
        if (self.mdp.min_blocks, self.mdp.max_blocks) != (config.min_blocks, config.max_blocks):
            raise ValueError("the given mdp's min/max blocks differ from the config's")
        self.proxy = proxy if proxy is not None else SEHProxy.load()
        self.scorer = StateScorer(self.mdp, self.proxy)
        self.reward = config.reward_fn()
        self.policy = BlockGraphPolicy.for_mdp(self.mdp, config.hidden, config.n_rounds).to(self.device)
        self.tracker = MolMetricsTracker(config.top_k)
        self.history = History.for_config(config)
        self.step_count = 0
        self.wall_seconds = 0.0
        self._last_info: dict[str, float] = {}

    def evaluate(self) -> dict:
        row = {"step": self.step_count}
        row.update(self.tracker.row())
        row["wall_seconds"] = self.wall_seconds
        row.update(self._last_info)
        return row

    def progress_postfix(self, row: dict) -> dict:
        return {"top10": f"{row['top10_reward']:.3f}", "modes": row["n_modes"]}

    def artifacts(self) -> dict[str, np.ndarray]:
        """The best molecules found (see :meth:`MolMetricsTracker.artifacts`), stored by the runner."""
        return self.tracker.artifacts()


class MolTrainer(MoleculeTrainer):
    """A (GA)FlowNet on molecules: steppable, checkpointable (``state_dict``) and resumable."""

    _components = ("policy", "intrinsic", "optimizer", "tracker")

    def __init__(self, config: MolTrainConfig, proxy: SEHProxy | None = None, mdp: FragmentMDP | None = None):
        self._setup(config, proxy, mdp)
        self.dtype = MOL_DTYPES[config.dtype]
        self.policy.to(self.dtype)
        self.log_z = torch.nn.Parameter(torch.zeros((), device=self.device))
        if config.intrinsic == "none":
            self.intrinsic = ZeroIntrinsic()
        elif config.rnd_features == "graph":
            self.intrinsic = GraphRND(self.mdp, config.hidden, config.n_rounds, config.eta)
        else:
            self.intrinsic = RND(config.hidden, eta=config.eta)
        self.intrinsic.to(device=self.device, dtype=self.dtype)
        self.rnd_encoder = None
        if config.intrinsic == "rnd" and config.rnd_features == "fixed":
            self.rnd_encoder = BlockGraphPolicy.for_mdp(self.mdp, config.hidden, config.n_rounds).to(device=self.device, dtype=self.dtype)
            self.rnd_encoder.requires_grad_(False)
        self._rnd_embedding_cache: dict = {}
        params = list(self.policy.parameters()) + [p for p in self.intrinsic.parameters() if p.requires_grad]
        groups = [{"params": params, "lr": config.lr}]
        if config.objective != "fm":  # FM has no log Z: Z = Σ_a F(s_0 → a)
            groups.append({"params": [self.log_z], "lr": config.lr_logz})
        self.optimizer = torch.optim.Adam(groups, foreach=True)

    # ------------------------------------------------------------------ one step
    def sample(self) -> MolTrajectories:
        cfg = self.config
        stop_at = draw_early_stops(cfg.batch_size, cfg.early_stop_reg, cfg.min_blocks, cfg.max_blocks) if cfg.early_stop_reg > 0 else None
        return sample_mol_trajectories(self.mdp, self.policy, cfg.batch_size, cfg.epsilon, device=self.device, stop_at=stop_at)

    def score(self, trajs: MolTrajectories) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Canonical SMILES, proxy scores and rewards of the finished molecules (cached by state)."""
        return score_molecules(self.scorer, self.reward, trajs.terminal)

    def _rnd_features(self, trajs: MolTrajectories, fwd, rows: torch.Tensor) -> torch.Tensor:
        """Graph embeddings of the child states ``s_1 … s_n`` (rows of ``fwd``) that RND reads:
        the frozen random encoder's (``rnd_features="fixed"``) or the policy's (``"policy"``), detached."""
        if self.rnd_encoder is None:
            return fwd.out.embedding[rows].detach()
        distinct = list(fwd.row)
        states = [distinct[i] for i in rows.tolist()]
        cache = self._rnd_embedding_cache  # the encoder is frozen: an embedding never changes
        new = list(dict.fromkeys(s for s in states if s not in cache))
        if len(cache) + len(new) > 200_000:  # bounded: start afresh, keeping this batch's states
            cache.clear()
            new = list(dict.fromkeys(states))
        if new:
            with torch.no_grad():
                emb = self.rnd_encoder(encode_states(self.mdp, new, self.device)).embedding
            cache.update(zip(new, emb))
        return torch.stack([cache[s] for s in states])

    def loss(self, trajs: MolTrajectories, log_reward: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """The objective's loss (with augmentation) plus the intrinsic model's loss."""
        cfg, device = self.config, self.device
        parents = fm_parents(self.mdp, trajs) if cfg.objective == "fm" else None
        extra = [p for per_traj in parents for edges in per_traj for p, _ in edges] if parents else []
        fwd = forward_batch(self.mdp, self.policy, trajs, extra, device)
        mask = trajs.mask(device)
        child_rows = fwd.traj_rows[:, 1:]  # (B, T) rows of s_1..s_T
        # the release's terminal term needs r(s_0) too: its row is appended after the children's
        rows = child_rows[mask]
        if cfg.terminal == "release":
            rows = torch.cat([rows, fwd.traj_rows[:1, 0]])
        dtype = fwd.out.logits.dtype
        if isinstance(self.intrinsic, GraphRND):
            distinct = list(fwd.row)
            r_all, intrinsic_loss = self.intrinsic.reward_and_loss([distinct[i] for i in rows.tolist()])
        elif isinstance(self.intrinsic, RND):
            r_all, intrinsic_loss = self.intrinsic.reward_and_loss(self._rnd_features(trajs, fwd, rows))
        else:
            r_all, intrinsic_loss = None, torch.zeros((), device=device, dtype=dtype)
        lengths = torch.tensor(trajs.lengths, device=device)
        if r_all is not None:
            r_rows = r_all[: int(mask.sum())]
            r = torch.zeros(mask.shape, device=device, dtype=dtype).masked_scatter(mask, r_rows)
            log_intrinsic = r.log().masked_fill(~mask, NEG_INF)
            mean_r = float(r_rows.mean())
        else:
            log_intrinsic = torch.full(mask.shape, NEG_INF, device=device, dtype=dtype)
            mean_r = 0.0
        if cfg.terminal == "release":  # R(x) + r(s_0) at a stop; R(x) (+ the leak r(x)) at a forced end
            forced = torch.tensor(trajs.forced, device=device)
            log_intrinsic_terminal = torch.where(forced, torch.full_like(log_reward, NEG_INF), r_all[-1].log().expand_as(log_reward))
        else:
            log_intrinsic_terminal = log_intrinsic.gather(1, (lengths - 1)[:, None]).squeeze(1)  # r(x), x = s_n
        if cfg.objective == "fm":
            terms = flow_matching_terms(trajs, parents, fwd, log_reward, log_intrinsic, log_intrinsic_terminal)
            objective_loss = fm_loss(augment(terms, cfg.augment), log_reg_c=cfg.log_reg_c, leaf_coef=cfg.leaf_coef)
        else:
            terms = augment(trajectory_terms(self.mdp, trajs, fwd, log_reward, log_intrinsic, log_intrinsic_terminal), cfg.augment)
            if cfg.objective == "tb":
                objective_loss = tb_loss(terms, self.log_z)
            elif cfg.objective == "db":
                objective_loss = db_loss(terms, self.log_z)
            else:
                objective_loss = subtb_loss(terms, self.log_z, cfg.subtb_lambda)
        info = {
            "loss": float(objective_loss.detach()),
            "intrinsic_loss": float(intrinsic_loss.detach()),
            "mean_intrinsic": mean_r,
            "mean_length": float(lengths.float().mean()),
        }
        return objective_loss + intrinsic_loss, info

    def step(self) -> dict[str, float]:
        """One training step (sample → score → loss → Adam). Returns the step's losses."""
        start = time.perf_counter()
        trajs = self.sample()
        smiles, scores, rewards = self.score(trajs)
        log_reward = torch.as_tensor(np.log(rewards), dtype=self.dtype, device=self.device)
        total, info = self.loss(trajs, log_reward)
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        self.optimizer.step()
        self.tracker.record(smiles, scores, rewards)
        info["mean_reward"] = float(np.mean(rewards))
        self.step_count += 1
        self.wall_seconds += time.perf_counter() - start
        self._last_info = info
        return info


    def describe(self) -> str:
        c = self.config
        return f"mols {c.objective}/{c.augment}/{c.intrinsic} seed={c.seed}"

    # ------------------------------------------------------------------ checkpointing
    def _extra_state(self) -> dict:
        state = {"log_z": self.log_z.detach().clone()}
        if self.rnd_encoder is not None:
            state["rnd_encoder"] = self.rnd_encoder.state_dict()
        return state

    def _load_extra_state(self, state: dict) -> None:
        with torch.no_grad():
            self.log_z.copy_(state["log_z"])
        if self.rnd_encoder is not None:
            self.rnd_encoder.load_state_dict(state["rnd_encoder"])
            self._rnd_embedding_cache.clear()


def train_mols(config: MolTrainConfig, progress: bool = True) -> History:
    """Train a (GA)FlowNet on molecules; ``History.rows`` is the list of metric dicts."""
    return MolTrainer(config).train(progress=progress)


def summary(history: History, config: MolTrainConfig) -> dict:
    """Final metrics of a run as the command line prints them (NaN → None) plus the config."""
    final = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in history.final.items()}
    final["steps"] = final.pop("step")
    final["config"] = asdict(config)
    return final
