"""GFlowNets and GAFlowNets on molecules (fragment MDP + sEH proxy), paper §4.

One training step, top to bottom:

1. sample ``batch_size`` trajectories (ε-uniform exploration; one policy call per iteration);
2. score the finished molecules with the proxy (cached), ``log R(x)`` by the reward transform;
3. ONE policy call on every distinct visited state (and, for FM, every parent);
4. intrinsic reward ``r(s) = η·‖f̂(g(s)) − f(g(s))‖₂`` of every non-initial state from its graph
   embedding ``g(s)`` (detached), and the RND predictor's loss;
5. :func:`gafn_lib.core.augment.augment` → the objective's loss, :func:`gafn_lib.core.objectives.objective_loss`
   (FM / TB / DB / SubTB);
6. one Adam step; every ``log_every`` steps a metrics row: top-10 reward, modes (> 7.5), top-10
   Tanimoto similarity, molecules generated, wall seconds.

The terminal intrinsic bonus ``r(x)`` is computed on the *finished* molecule ``x = s_n``.

The network (policy, and RND's graph networks) is ``config.network``: the compact
:class:`~gafn_lib.molecules.policy.BlockGraphPolicy` or the public release's
:class:`~gafn_lib.molecules.release_net.ReleaseGraphNet`; ``MolTrainConfig.preset("release")`` is the
release's whole configuration.

The config is :class:`gafn_lib.molecules.config.MolTrainConfig`, the tracker
:class:`gafn_lib.molecules.tracking.MolMetricsTracker`, the base class every molecule trainer shares
:class:`gafn_lib.molecules.base.MoleculeTrainer`; all three are importable from here too.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from gafn_lib.core.augment import augment
from gafn_lib.core.intrinsic import RND, ZeroIntrinsic
from gafn_lib.core.objectives import objective_loss
from gafn_lib.core.terms import NEG_INF
from gafn_lib.envs.fragment_batch import encode_states
from gafn_lib.envs.fragments import FragmentMDP
from gafn_lib.envs.sehproxy import SEHProxy
from gafn_lib.molecules.base import MoleculeTrainer
from gafn_lib.molecules.config import MOL_DTYPES, MolTrainConfig
from gafn_lib.molecules.graph_rnd import GraphRND
from gafn_lib.molecules.networks import build_state_embedding
from gafn_lib.molecules.sampling import (
    MolTrajectories, draw_early_stops, flow_matching_terms, fm_parents, forward_batch, sample_mol_trajectories, trajectory_terms,
)
from gafn_lib.molecules.scoring import score_molecules
from gafn_lib.molecules.state_cache import EMBEDDING_CACHE_SIZE, BoundedStateCache
from gafn_lib.molecules.tracking import MolMetricsTracker

#: Also importable from here: the config (its run ids key it as ``gafn_lib.mol_train.MolTrainConfig``,
#: see :mod:`gafn_lib.registry`), the tracker and the base class every molecule trainer shares.
__all__ = ["MolTrainConfig", "MolTrainer", "MolMetricsTracker", "MoleculeTrainer"]


class MolTrainer(MoleculeTrainer):
    """A (GA)FlowNet on molecules: steppable, checkpointable (``state_dict``) and resumable."""

    _components = ("policy", "intrinsic", "optimizer", "tracker")

    def __init__(self, config: MolTrainConfig, proxy: SEHProxy | None = None, mdp: FragmentMDP | None = None):
        self._setup(config, proxy, mdp)  # builds the policy of config.network
        self.dtype = MOL_DTYPES[config.dtype]
        self.policy.to(self.dtype)
        self.log_z = torch.nn.Parameter(torch.zeros((), device=self.device))
        if config.intrinsic == "none":
            self.intrinsic = ZeroIntrinsic()
        elif config.rnd_features == "graph":
            self.intrinsic = GraphRND(self.mdp, config.hidden, config.n_rounds, config.eta, network=config.network)
        else:
            self.intrinsic = RND(config.hidden, eta=config.eta)
        self.intrinsic.to(device=self.device, dtype=self.dtype)
        self.rnd_encoder = None
        if config.intrinsic == "rnd" and config.rnd_features == "fixed":
            self.rnd_encoder = build_state_embedding(config.network, self.mdp, config.hidden, config.n_rounds).to(device=self.device, dtype=self.dtype)
            self.rnd_encoder.requires_grad_(False)
        self._rnd_embedding_cache = BoundedStateCache(self._embed_fixed_features, EMBEDDING_CACHE_SIZE)
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
        return torch.stack(self._rnd_embedding_cache([distinct[i] for i in rows.tolist()]))

    def _embed_fixed_features(self, states: list) -> list[torch.Tensor]:
        """The frozen random encoder's graph embeddings of ``states`` (computed once per state: it never changes)."""
        with torch.no_grad():
            return list(self.rnd_encoder.embed(encode_states(self.mdp, states, self.device)))

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
        release_terminal = cfg.terminal == "release" and cfg.augment == "joint"  # inert without augmentation
        if release_terminal:
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
        if release_terminal:  # R(x) + r(s_0) at a stop; R(x) (+ the leak r(x)) at a forced end
            forced = torch.tensor(trajs.forced, device=device)
            log_intrinsic_terminal = torch.where(forced, torch.full_like(log_reward, NEG_INF), r_all[-1].log().expand_as(log_reward))
        else:
            log_intrinsic_terminal = log_intrinsic.gather(1, (lengths - 1)[:, None]).squeeze(1)  # r(x), x = s_n
        if cfg.objective == "fm":
            terms = flow_matching_terms(trajs, parents, fwd, log_reward, log_intrinsic, log_intrinsic_terminal)
        else:
            terms = trajectory_terms(self.mdp, trajs, fwd, log_reward, log_intrinsic, log_intrinsic_terminal)
        loss = objective_loss(
            cfg.objective, augment(terms, cfg.augment), None if cfg.objective == "fm" else self.log_z,
            subtb_lambda=cfg.subtb_lambda, log_reg_c=cfg.log_reg_c, leaf_coef=cfg.leaf_coef,
        )
        info = {
            "loss": float(loss.detach()),
            "intrinsic_loss": float(intrinsic_loss.detach()),
            "mean_intrinsic": mean_r,
            "mean_length": float(lengths.float().mean()),
        }
        return loss + intrinsic_loss, info

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
        self.tracker.record(smiles, scores, rewards, lengths=[s.n_blocks for s in trajs.terminal])
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
