"""The base class of every molecule trainer (GFlowNets, PPO, MARS, random search): construction,
metric rows and stored molecules.

Every trainer records each generated molecule once with ``self.tracker.record(smiles, scores,
rewards, lengths=...)`` (lengths = numbers of blocks); the tracker's ``hit_rate`` uses the config's
reward threshold and ``top10_score_norm`` its normaliser (:meth:`MoleculeTrainer._setup`).
"""

from __future__ import annotations

import numpy as np

from gafn_lib.core.history import History
from gafn_lib.core.loop import Trainer
from gafn_lib.core.runtime import configure_threads, keep_freed_memory, resolve_device, seed_everything
from gafn_lib.envs.fragments import FragmentMDP
from gafn_lib.envs.sehproxy import SEHProxy
from gafn_lib.molecules.networks import build_policy
from gafn_lib.molecules.scoring import StateScorer
from gafn_lib.molecules.tracking import MolMetricsTracker


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
        # the config's network (compact for the configs without a `network` field: PPO, MARS, random)
        self.policy = build_policy(getattr(config, "network", "compact"), self.mdp, config.hidden, config.n_rounds).to(self.device)
        self.tracker = MolMetricsTracker(config.top_k, hit_threshold=self.reward.threshold, score_normaliser=self.reward.normaliser)
        self.history = History.for_config(config)
        self.step_count = 0
        self.wall_seconds = 0.0
        self._last_info: dict[str, float] = {}

    def evaluate(self) -> dict:
        """The logged row: step, the tracker's columns (:mod:`gafn_lib.molecules.tracking`), wall
        seconds, then the last step's diagnostics. It closes the tracker's window, so call it once
        per logged row (``self.tracker.row(close_window=False)`` looks without closing). A window
        column wins over a last-step diagnostic of the same name (``mean_score``, ``mean_length``:
        the window's mean covers every molecule since the previous row, not only the last step's)."""
        row: dict = {"step": self.step_count}
        row.update(self.tracker.row())
        row["wall_seconds"] = self.wall_seconds
        row.update({k: v for k, v in self._last_info.items() if k not in row})
        return row

    def progress_postfix(self, row: dict) -> dict:
        return {"top10": f"{row['top10_reward']:.3f}", "modes": row["n_modes"]}

    def artifacts(self) -> dict[str, np.ndarray]:
        """The best molecules found (see :meth:`MolMetricsTracker.artifacts`), stored by the runner."""
        return self.tracker.artifacts()
