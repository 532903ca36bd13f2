"""What the long and paper molecule sweeps cost in CPU core-hours, from measured step rates.

The rates (:data:`RELEASE_CPU_STEPS_PER_SECOND`) are steps per second of each method over a whole
run of the long profile (seed 0, 250,000 molecules, 2026-12-06/07): the training time its metric
rows logged (``wall_seconds`` of its last row, summed over the sittings it was resumed in), on this
project's 2-core machine with the other core running the other sweep, as every long run does, and
at times a test suite beside it. That is what a long run costs here, drift included: the step cost
changes as a sampler's molecules lengthen or shorten during training, and the earlier estimates
from short runs missed it by 1.2–2.2× (the decisive runs, 15,000 steps: GAFlowNet 8.0 steps/s,
GFlowNet 19.0, the GFlowNet without ``log_reg_c`` 13.3; the bench's fresh trainers: PPO 3.65, MARS
17.1, random search 87.6). GAFlowNet and GFlowNet are in the release preset (the long and paper
profiles' configuration), the baselines at their defaults. A step is 4 molecules for GAFlowNet,
GFlowNet and random search, 16 for PPO (one iteration) and MARS (one proposal per chain);
:func:`gafn_lib.repro.molecules.configs.method_config` gives every method the same number of
molecules, so PPO and MARS take a quarter of the steps.

What the estimate leaves out: the metric rows' evaluation and the checkpoints (outside the logged
training time: minutes per run). Wall-clock rates on a shared machine vary: treat the estimate as
±30 %.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import pandas as pd

from gafn_lib.repro.molecules.configs import GAFN, GFN, GFN_RELEASE_NO_C, MARS, PPO, RANDOM

#: Steps per second on one core, by method label, GAFlowNet and GFlowNet in the release preset:
#: each method's long run of seed 0 (62,500 steps; PPO and MARS 15,625), logged training time:
#: GAFlowNet 2.71 h (about 5 blocks per molecule), GFlowNet 1.99 h (collapsed onto short molecules
#: early, then 5–6 blocks), the GFlowNet without ``log_reg_c`` 3.08 h (4.5–6.8 blocks; about 50 min
#: of it paused by SIGSTOP while test suites ran, so its rate is a lower bound), PPO 2.08 h (7 blocks;
#: its first half beside two other jobs), MARS 0.35 h, random search 0.28 h.
RELEASE_CPU_STEPS_PER_SECOND: Mapping[str, float] = {GAFN: 6.4, GFN: 8.73, GFN_RELEASE_NO_C: 5.64, PPO: 2.08, MARS: 12.5, RANDOM: 61.9}


def cost_estimate(
    runs: Sequence[tuple[str, Any]], rates: Mapping[str, float] = RELEASE_CPU_STEPS_PER_SECOND,
    steps_done: Mapping[int, int] | None = None,
) -> pd.DataFrame:
    """Core-hours per method of ``runs`` (``(label, config)`` pairs) at ``rates`` (CPU steps/s by
    label), one row per method and a ``total`` row.

    Columns: ``method``, ``runs``, ``steps_per_run``, ``cpu_steps_per_s``, ``core_hours_per_run``,
    ``core_hours`` (all of the method's runs) and ``core_hours_left`` (the steps not done yet:
    ``steps_done`` maps a run's index in ``runs`` to the steps it has done; default none). A label
    without a rate gets NaN hours, and the total is then NaN too."""
    for label, rate in rates.items():
        if not rate > 0:
            raise ValueError(f"rates[{label!r}] must be > 0, got {rate!r}")
    steps_done = steps_done or {}
    rows: dict[str, dict[str, Any]] = {}
    for i, (label, config) in enumerate(runs):
        done = steps_done.get(i, 0)
        if not 0 <= done <= config.n_steps:
            raise ValueError(f"steps_done[{i}] must be in [0, {config.n_steps}], got {done!r}")
        rate = rates.get(label, math.nan)
        row = rows.setdefault(label, {"method": label, "runs": 0, "steps_per_run": config.n_steps, "cpu_steps_per_s": rate,
                                      "core_hours_per_run": config.n_steps / rate / 3600, "core_hours": 0.0, "core_hours_left": 0.0})
        row["runs"] += 1
        row["core_hours"] += config.n_steps / rate / 3600
        row["core_hours_left"] += (config.n_steps - done) / rate / 3600
    table = pd.DataFrame(list(rows.values()),
                         columns=["method", "runs", "steps_per_run", "cpu_steps_per_s", "core_hours_per_run", "core_hours", "core_hours_left"])
    total = {"method": "total", "runs": int(table["runs"].sum()), "steps_per_run": math.nan, "cpu_steps_per_s": math.nan,
             "core_hours_per_run": math.nan, "core_hours": table["core_hours"].sum(min_count=1) if table["core_hours"].notna().all() else math.nan,
             "core_hours_left": table["core_hours_left"].sum() if table["core_hours_left"].notna().all() else math.nan}
    return pd.concat([table, pd.DataFrame([total])], ignore_index=True)


def format_cost(table: pd.DataFrame, workers: int = 1) -> str:
    """:func:`cost_estimate`'s table as text, with the wall-clock time on ``workers`` cores if
    nothing else runs (the runs are independent: the hours left divided by the cores, but never less
    than one run's time)."""
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    total = table[table["method"] == "total"].iloc[0]
    shown = table.copy()
    for column in ("core_hours_per_run", "core_hours", "core_hours_left"):
        shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:.2f}")
    shown["steps_per_run"] = shown["steps_per_run"].map(lambda v: "" if pd.isna(v) else f"{int(v):,}")
    shown["cpu_steps_per_s"] = shown["cpu_steps_per_s"].map(lambda v: "" if pd.isna(v) else f"{v:g}")
    left = float(total["core_hours_left"])
    return (shown.to_string(index=False)
            + f"\nestimated cost: {float(total['core_hours']):.1f} core-hours in all, {left:.1f} left;"
            + f" on {workers} core(s) at least {left / workers:.1f} h of wall clock (measured step rates, ±30 %)")
