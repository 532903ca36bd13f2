"""Training GFlowNets and GAFlowNets on any environment with tensor states (the hypergrid, bit
strings, or your own: see :mod:`gafn_lib.core.env`).

The solo trainer is the ensemble trainer (:class:`gafn_lib.core.ensemble.EnsembleTrainer`) with
one member: one code path, so a run trained alone and the same run trained inside an ensemble
follow the same formulas. One training step, top to bottom:

1. sample ``B`` trajectories with the current policy (no gradient, lockstep, inverse-CDF sampling
   from the run's own ``torch.Generator``);
2. one batched forward pass of the policy on every *distinct* visited state → ``log P_F``,
   ``log P_B``, ``log F`` (and, for FM, the edge flows of every parent);
3. intrinsic reward of every visited state (detached) and the intrinsic model's own loss;
4. :func:`gafn_lib.core.augment.augment` → the objective's loss;
5. one Adam step (networks at ``lr``, ``log Z`` at ``lr_logz``);
6. every ``log_every`` steps: metrics (cumulative-visit L1, exact-policy L1 by DP, modes).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from gafn_lib.core.config import TrainConfig
from gafn_lib.core.ensemble.trainer import EnsembleTrainer, _SoloPolicyAdapter, compatibility_key, describe_env
from gafn_lib.core.history import History
from gafn_lib.core.loop import run_logged_loop
from gafn_lib.core.sampling import Trajectories

__all__ = ["GFlowNetTrainer", "GridTrainer", "describe_env", "summary", "train"]


class GFlowNetTrainer(EnsembleTrainer):
    """A (GA)FlowNet on an environment with tensor states, steppable, checkpointable
    (``state_dict``) and resumable: an :class:`~gafn_lib.core.ensemble.EnsembleTrainer` of one run.

    ``GFlowNetTrainer(config, env=None)``: ``config`` is the algorithm (:class:`TrainConfig`);
    ``env`` any object implementing :class:`gafn_lib.core.env.Environment` (checked before any
    compute). Without ``env`` the config builds it (``config.make_env``: the hypergrid of a
    :class:`gafn_lib.grid.config.GridTrainConfig`, the named environment of an
    :class:`gafn_lib.core.config.EnvTrainConfig`). The history records the environment (``env``).

    ``trainer.policy`` (and ``trainer.intrinsic``) may be replaced by a per-state module ``obs → (logits_pf, logits_pb,
    log_flow)`` with ``forward_logits`` (e.g. :class:`gafn_lib.core.policies.TabularPolicy`) for
    exact checks; the optimiser keeps the original network's parameters.

    Example:
        >>> trainer = GFlowNetTrainer(GridTrainConfig(height=8, n_steps=500))
        >>> history = trainer.train()
        >>> history.final["modes_found"]
    """

    #: What the runner trains several configs of this trainer with, and which configs can share one.
    ensemble_class = EnsembleTrainer
    ensemble_key = staticmethod(compatibility_key)

    def __init__(self, config: TrainConfig, env=None):
        if not isinstance(config, TrainConfig):
            raise TypeError(f"config must be a TrainConfig (or GridTrainConfig / EnvTrainConfig), got {type(config).__name__}")
        super().__init__([config], env=env)

    # ------------------------------------------------------------------ the one member
    @property
    def config(self) -> TrainConfig:
        return self.configs[0]

    @config.setter
    def config(self, config: TrainConfig) -> None:
        """Swap the algorithm's config (the loss reads its objective and augmentation from it;
        networks, optimiser and environment stay)."""
        self.configs[0] = config

    @property
    def history(self) -> History:
        return self.histories[0]

    @property
    def tracker(self):
        return self.trackers[0]

    @property
    def _last_info(self) -> dict[str, float]:
        return self._last_infos[0]

    @property
    def log_z(self) -> torch.Tensor:
        """``log Z`` (a view of the one-member parameter; unused by FM)."""
        return self.log_z_all[0]

    @property
    def intrinsic(self):
        """The run's intrinsic reward: the stacked RND or counts of this one member, or an
        :class:`~gafn_lib.core.intrinsic.IntrinsicReward` set here (e.g. a fixed table for exact
        checks; the optimiser keeps the original model's parameters)."""
        if self.custom_intrinsic:
            return self.custom_intrinsic[0]
        return self.rnd if self.rnd is not None else self.counts

    @intrinsic.setter
    def intrinsic(self, module) -> None:
        self.custom_intrinsic = {0: module.to(self.device)}
        self.rnd = self.counts = None
        self.rnd_members, self.count_members = [], []

    @property
    def policy(self):
        return self.policy_net if self._custom_policy is None else self._custom_policy.module

    @policy.setter
    def policy(self, module) -> None:
        self._custom_policy = None if module is self.policy_net else _SoloPolicyAdapter(module, self.env)

    # ------------------------------------------------------------------ one step
    def sample(self) -> Trajectories:
        return super().sample()

    def loss(self, traj: Trajectories) -> tuple[torch.Tensor, dict[str, float]]:
        """The objective's loss (with augmentation) plus the intrinsic model's loss."""
        total, infos = self._loss_all(traj)
        return total, infos[0]

    def step(self) -> dict[str, float]:
        """One training step (sample → loss → Adam). Returns the step's losses."""
        return self._step_all()[0]

    # ------------------------------------------------------------------ evaluation
    def forward_probabilities(self) -> torch.Tensor | None:
        """``P_F(·|s)`` of the current policy on every state, ``(n_states, n_actions)`` (ε and τ
        included), in the environment's index order; ``None`` if the environment cannot enumerate."""
        probs = self.forward_probabilities_all()
        return None if probs is None else probs[0]

    def current_log_z(self) -> float:
        return self.log_z_values()[0]

    def evaluate(self) -> dict:
        """Metrics of the current state of training (one history row)."""
        return self.evaluate_members()[0]

    def artifacts(self) -> dict[str, np.ndarray]:
        """Final arrays worth keeping next to the metric table (the runner saves them as ``.npz``):
        the exact terminal distribution of the policy, the visit histogram and the target, in the
        environment's state layout (``(H,)*ndim`` on the hypergrid; flat otherwise). Empty for an
        environment that cannot enumerate its states."""
        return self.artifacts_of(0)

    # ------------------------------------------------------------------ loop
    def train(self, n_steps: int | None = None, progress: bool = True, on_log=None) -> History:  # type: ignore[override]
        """Run until ``n_steps`` (default ``config.n_steps``) steps are done in total, logging a row every
        ``config.log_every`` steps and at the last step; ``on_log(trainer)`` follows each row."""
        return run_logged_loop(self, n_steps, progress, on_log, self.progress_postfix)

    def progress_postfix(self, row: dict) -> dict:
        if "l1_mean_exact" not in row:  # an environment without enumeration: sampled metrics only
            return {"loss": f"{row.get('loss', float('nan')):.3g}"}
        return {"l1": f"{row['l1_mean_exact']:.2e}", "modes": f"{row['modes_found']}/{row['n_modes']}"}


#: The name used before the trainer took any environment (kept: it reads well for the grid).
GridTrainer = GFlowNetTrainer


def train(config: TrainConfig, env=None, progress: bool = True) -> History:
    """Train a (GA)FlowNet (on ``env``, or the environment ``config`` names) and return its :class:`History`."""
    return GFlowNetTrainer(config, env=env).train(progress=progress)


def summary(history: History) -> dict:
    """The final metrics of a run, as the command line prints them."""
    final = dict(history.final)
    final["steps"] = final.pop("step")
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in final.items()}
