"""What a GridWorld run costs on one core, from measured times per member-step, by method and height.

A sweep of the paper profile trains for many hours, and most of it at large heights: a step of a
GFlowNet at H = 128 samples 16 trajectories of up to 254 moves, one at H = 8 of up to 14. Counting
runs (the sweep's progress bar before this module) therefore made the time left look several times
shorter after the cheap heights were done. :func:`seconds_per_step` gives one run's expected seconds
per training step on one core, and :func:`run_seconds` a whole run's; the sweep's progress bar
weights runs by them (:func:`gafn_lib.runner.run_sweep`, ``step_seconds``) and ``prefetch
--status`` prints the core-hours left per task.

The anchors (:data:`MS_PER_MEMBER_STEP`) are milliseconds per member-step of an ensemble (steps per
second of the ensemble divided into its members), one torch thread, trained-length trajectories,
each with where it comes from. Between anchors the time is interpolated linearly in log(H) and
log(time); outside them the nearest anchor's value is used. The GFlowNet anchors are the mean of an
ensemble that mixes GAFlowNet (RND) and plain TB members; a run with an intrinsic reward is taken
as :data:`INTRINSIC_FACTOR` times that mean and one without as :data:`PLAIN_FACTOR` (TB ≈ 0.6×
GAFlowNet, measured: "GFlowNet (TB) ≈ 0.7× GAFlowNet" solo and "TB about half" in the 3-seed
sweep). The anchors are for the paper's 2-D grid; other ``ndim`` use the same table (a rough guide
only). Treat an estimate as ±50 %: the machine is shared and a run's trajectories lengthen as it
learns.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

#: Milliseconds per member-step on one core, by method family and grid height (2-D grid).
#:
#: - ``"gflownet"``, H = 8 and 16: the 10-seed paper sweep (2026-12-06/07, engine of issue 22),
#:   GAFlowNet and TB seeds 0–9 as one ensemble of 20, the other core busy: 18.6 steps/s (2.7 ms) at
#:   H = 8, 7.1 steps/s (7.0 ms) at H = 16.
#: - ``"gflownet"``, H = 32 and 64: the same sweep's ensembles of 20 (GAFlowNet and TB, seeds 0–9;
#:   2026-12-07, the other core busy): 7.58 steps/s (6.6 ms) at H = 32, 2.94 steps/s (17.0 ms) at
#:   H = 64. Notebook 03's GAFlowNet-only ensembles of 10 at H = 32 took 26 min for 20,000 steps
#:   (7.8 ms per member-step, i.e. 6.2 for the mixed mean), in line. H = 32 costs less than H = 16
#:   per step: H = 16 (256 states) trains in table mode, the policy with gradient on every state,
#:   while H = 32 evaluates only the visited states.
#: - ``"gflownet"``, H = 128: the 10-seed sweep's GAFlowNet ensemble of 10, sampling per move,
#:   2.22 steps/s over its first 6,000 steps (45 ms per member-step; 2026-12-07, the other core
#:   busy), i.e. 45 / (INTRINSIC_FACTOR · PER_MOVE_FACTOR) = 55.4 ms for the mixed mean with sampling
#:   tables. (A synthetic profile before the sweep, fresh seeds with the stop logit lowered, had
#:   given 64 ms.)
#: - ``"ppo"``, H = 8: the 10-seed sweep's PPO ensemble of 10 at 5.05 steps/s (19.8 ms); H = 16:
#:   its ensemble of 10 at 2.4–2.6 steps/s (39 ms, with two other jobs on the two cores); H = 32:
#:   the tuning ensemble of 16 (two entropy coefficients, with and without RND) at 2.36 steps/s
#:   (26.5 ms); H = 64: the 10-seed sweep's ensemble of 10 at 3.40 steps/s (29.4 ms; 2026-12-07, the
#:   other core busy); H = 128: the 10-seed sweep's ensemble of 10 at 1.26 steps/s over its first
#:   8,000 steps (79 ms; 2026-12-08, the other core busy for part of it).
#: - ``"mcmc"``: the 10-seed sweep's 50 chains (H = 8…128, 20,000 steps, checkpointed every 1,000)
#:   took 319 s in all on one core (2026-12-07): 0.32 ms per step at every height.
MS_PER_MEMBER_STEP: Mapping[str, Mapping[int, float]] = {
    "gflownet": {8: 2.7, 16: 7.0, 32: 6.6, 64: 17.0, 128: 55.4},
    "ppo": {8: 19.8, 16: 39.0, 32: 26.5, 64: 29.4, 128: 79.0},
    "mcmc": {8: 0.32, 128: 0.32},
}

#: A GFlowNet run with an intrinsic reward (GAFlowNet) costs this times the mixed ensemble's mean,
#: one without it this much (so a half-and-half ensemble costs the mean).
INTRINSIC_FACTOR = 1.25
PLAIN_FACTOR = 0.75

#: A GFlowNet run that samples per move (``sampling="per_move"``; the notebooks' runs from H = 128,
#: :data:`gafn_lib.repro.experiments.PER_MOVE_FROM_HEIGHT`) costs this times the anchor, which was
#: measured with sampling tables: ``python -m gafn_lib.bench --ensemble 10 --heights 128
#: --compare-sampling`` gave 1.54× a step at H = 128 (2026-12-07).
PER_MOVE_FACTOR = 0.65

#: Config class name → method family of :data:`MS_PER_MEMBER_STEP`.
FAMILY_OF_CONFIG = {"GridTrainConfig": "gflownet", "PPOConfig": "ppo", "MCMCConfig": "mcmc"}


def interpolate_log_log(anchors: Mapping[int, float], height: int) -> float:
    """``anchors`` (height → ms) at ``height``: linear in (log H, log ms) between the two anchors
    around it, the nearest anchor's value outside them.

    >>> interpolate_log_log({8: 2.0, 32: 8.0}, 16)
    4.0
    """
    if not anchors:
        raise ValueError("interpolate_log_log: anchors must not be empty")
    if not (isinstance(height, int) and height >= 1):
        raise ValueError(f"interpolate_log_log: height must be an integer >= 1, got {height!r}")
    points = sorted(anchors.items())
    if height <= points[0][0]:
        return float(points[0][1])
    for (h0, t0), (h1, t1) in zip(points, points[1:]):
        if height <= h1:
            w = (math.log(height) - math.log(h0)) / (math.log(h1) - math.log(h0))
            return float(math.exp((1 - w) * math.log(t0) + w * math.log(t1)))
    return float(points[-1][1])


def seconds_per_step(config: Any) -> float | None:
    """Expected seconds per training step of the grid run ``config`` on one core (in an ensemble),
    or ``None`` for a config this model does not cover (not a grid run, e.g. a molecule run)."""
    family = FAMILY_OF_CONFIG.get(type(config).__name__)
    height = getattr(config, "height", None)
    if family is None or not isinstance(height, int):
        return None
    ms = interpolate_log_log(MS_PER_MEMBER_STEP[family], height)
    if family == "gflownet":
        ms *= INTRINSIC_FACTOR if getattr(config, "intrinsic", "none") != "none" else PLAIN_FACTOR
        if getattr(config, "sampling", "auto") == "per_move":
            ms *= PER_MOVE_FACTOR
    return ms / 1000.0


def run_seconds(config: Any, steps_done: int = 0) -> float | None:
    """Expected seconds of the steps of ``config`` not done yet (``n_steps − steps_done``) on one
    core, or ``None`` where :func:`seconds_per_step` has no estimate."""
    per_step = seconds_per_step(config)
    n_steps = getattr(config, "n_steps", None)
    if per_step is None or not isinstance(n_steps, int):
        return None
    if not 0 <= steps_done <= n_steps:
        raise ValueError(f"run_seconds: steps_done must be in [0, {n_steps}], got {steps_done!r}")
    return per_step * (n_steps - steps_done)
