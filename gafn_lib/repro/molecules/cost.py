"""What the long and paper molecule sweeps cost in CPU core-hours, from measured step rates.

The rates (:data:`RELEASE_CPU_STEPS_PER_SECOND`) are steps per second of each method on one core
(one torch thread): for GAFlowNet and GFlowNet, measured over whole runs of the decisive sweep; for
PPO, over the second half of its first long run; for MARS and random search, CPU steps per second
of the benchmark's fresh trainers, measured with::

    OMP_NUM_THREADS=1 python -m gafn_lib.bench_mols --preset release \\
        --methods GAFlowNet GFlowNet PPO MARS Random --steps 20 --n-proxy 0  # and --steps 40

on this project's 2-core machine while it was shared with other training jobs, so the *CPU time*
rates are used (the wall-clock ones were 2–4× lower). GAFlowNet and GFlowNet are in the release
preset (the long and paper profiles' configuration), the baselines at their defaults. A step is 4
molecules for GAFlowNet, GFlowNet and random search, 16 for PPO (one iteration) and MARS (one
proposal per chain); :func:`gafn_lib.repro.molecules.configs.method_config` gives every method the
same number of molecules, so PPO and MARS take a quarter of the steps.

What the estimate leaves out: the metric rows (100 per run, each ranking the unique molecules so
far: seconds per run), checkpoints, and any drift of the step cost during training (a GFlowNet that
learns to stop earlier builds fewer blocks per molecule and gets cheaper; one that keeps building 8
blocks does not). The bench starts from a fresh trainer, so its molecules have the untrained
policies' lengths. The two measurements differ by up to 25 % (MARS); treat the estimate as ±30 %.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import pandas as pd

from gafn_lib.repro.molecules.configs import GAFN, GFN, GFN_RELEASE_NO_C, MARS, PPO, RANDOM

#: Steps per second on one core, by method label, GAFlowNet and GFlowNet in the release preset.
#: GAFlowNet and GFlowNet: whole runs of the decisive sweep (15,000 steps, 2026-12-06, wall clock
#: on one core with the other busy; metric rows and checkpoints included): the release GAFlowNet
#: 8.0 and 8.3 steps/s (about 5 blocks per molecule), the release GFlowNet 20.5 and 18.1 (it
#: collapses onto 2–3-block molecules, as it will in the long profile: ``probe.collapse_probe``).
#: The bench's fresh trainers had given 6.48 and 9.42. The release GFlowNet without ``log_reg_c``
#: (:data:`~gafn_lib.repro.molecules.configs.GFN_RELEASE_NO_C`, about 4 blocks per molecule): 13.3
#: and 13.3 steps/s over its two decisive runs. PPO: its long run of seed 0 (2026-12-07, wall
#: clock of its metric rows): 2.68 and 2.83 steps/s over the second half (steps 7,956–15,625, one
#: other job on the machine), 1.64–1.72 over the first half (two other jobs on two cores); the
#: bench's fresh trainers had given 3.65, before PPO's molecules grew to 7 blocks. MARS and random
#: search: the mean of two runs of bench_mols --preset release on 2026-12-06 (``--steps 20``: MARS
#: 15.1, Random 79.3; ``--steps 40``: 19.2, 95.8).
RELEASE_CPU_STEPS_PER_SECOND: Mapping[str, float] = {GAFN: 8.0, GFN: 19.0, GFN_RELEASE_NO_C: 13.3, PPO: 2.75, MARS: 17.1, RANDOM: 87.6}


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
