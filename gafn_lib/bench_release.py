"""Side by side with the public release: ``python -m gafn_lib.bench_release PATH --heights 8,64``.

``PATH`` is a local copy of the release's grid script (``grid/toy_grid_dag.py`` of
github.com/ling-pan/GAFN; this project does not ship it). Both trainers run GAFlowNet on the paper's
2-D sparse grid (TB, joint augmentation, RND, the paper's η for the height, batch 16, one torch
thread, CPU) in one process: ``--warmup`` steps each (so trajectories reach a trained length), then
``--reps`` alternating blocks of ``--steps`` steps each, so both see the same machine load. Printed
per height (JSON with ``--json``): milliseconds per step of each (minimum and median over blocks),
their mean trajectory lengths and the ratio release / ours. A step of the release is its own loop
body: ``sample_many``, ``learn_from``, ``backward``, Adam.

The release's script reads a module-level ``args`` and imports ``scipy`` (unused by the agent): this
benchmark sets the first and, if SciPy is not installed, stubs the second.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
import types
from pathlib import Path

#: The release's η by height (its ``ri_eta_map``), the same values as the paper's.
RELEASE_ETA = {8: 0.005, 16: 0.005, 32: 0.001, 64: 0.005, 128: 0.001}


def load_release(path: str | Path):
    """Import the release's script from ``path`` as a module (its ``__main__`` block does not run)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no release script at {path} (download grid/toy_grid_dag.py of github.com/ling-pan/GAFN)")
    try:
        import scipy.stats  # noqa: F401
    except ImportError:  # only `from scipy.stats import norm`, never used by the agent
        stats = types.ModuleType("scipy.stats")
        stats.norm = None
        sys.modules.setdefault("scipy", types.ModuleType("scipy"))
        sys.modules["scipy.stats"] = stats
    spec = importlib.util.spec_from_file_location("gafn_release_grid", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in ("parser", "GridEnv", "TBFlowNetAgent", "func_corners", "set_device"):
        if not hasattr(module, name):
            raise ValueError(f"{path} has no {name!r}: not the release's grid/toy_grid_dag.py")
    return module


def release_stepper(module, height: int, seed: int = 0):
    """A function running one training step of the release's GAFlowNet; returns the batch's mean
    number of moves."""
    import numpy as np
    import torch

    if height not in RELEASE_ETA:
        raise ValueError(f"height must be one of {sorted(RELEASE_ETA)} (the release's ri_eta_map), got {height}")
    args = module.parser.parse_args(["--device", "cpu", "--horizon", str(height), "--augmented", "1", "--seed", str(seed)])
    args.ri_eta = RELEASE_ETA[height]
    args.dev = torch.device("cpu")
    module.set_device(args.dev)
    module.args = args  # GridEnv reads the module-level args
    torch.manual_seed(seed)
    np.random.seed(seed)
    envs = [module.GridEnv(height, 2, func=module.func_corners) for _ in range(args.mbsize)]
    agent = module.TBFlowNetAgent(args, envs)
    opt = torch.optim.Adam([{"params": agent.parameters(), "lr": args.tb_lr}, {"params": [agent.Z], "lr": args.tb_z_lr}])
    visited: list = []

    def step() -> float:
        data = agent.sample_many(args.mbsize, visited)
        loss = agent.learn_from(0, data)
        loss.backward()
        opt.step()
        opt.zero_grad()
        return float(np.mean(data[3])) - 1  # states per trajectory − 1 = moves

    return step


def our_stepper(height: int, seed: int = 0):
    """One training step of this project's GAFlowNet with the same settings; returns the mean length."""
    from gafn_lib.core.trainer import GFlowNetTrainer
    from gafn_lib.grid.config import GridTrainConfig

    trainer = GFlowNetTrainer(GridTrainConfig(height=height, objective="tb", augment="joint", intrinsic="rnd",
                                              n_steps=10**9, seed=seed, threads=1))
    return lambda: trainer.step()["mean_length"]


def compare(path: str | Path, height: int, warmup: int, steps: int, reps: int) -> dict:
    """Time both trainers side by side at ``height`` (module docstring)."""
    import warnings

    import torch

    torch.set_num_threads(1)
    module = load_release(path)
    steppers = {"release": release_stepper(module, height), "ours": our_stepper(height)}
    times: dict[str, list[float]] = {name: [] for name in steppers}
    lengths: dict[str, list[float]] = {name: [] for name in steppers}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the release builds tensors from lists of arrays
        for _ in range(warmup):
            for step in steppers.values():
                step()
        for _ in range(reps):
            for name, step in steppers.items():
                start = time.perf_counter()
                lengths[name] += [step() for _ in range(steps)]
                times[name].append((time.perf_counter() - start) / steps * 1e3)
    row = {"height": height, "warmup_steps": warmup, "steps_per_block": steps, "blocks": reps}
    for name in steppers:
        row[f"{name}_ms_per_step_min"] = round(min(times[name]), 2)
        row[f"{name}_ms_per_step_median"] = round(statistics.median(times[name]), 2)
        row[f"{name}_mean_length"] = round(statistics.fmean(lengths[name]), 1)
    # three significant digits (two decimals would print a ratio below 0.1 as 0.03 for 0.0264)
    row["ratio_min"] = float(f"{min(times['release']) / min(times['ours']):.3g}")
    row["ratio_median"] = float(f"{statistics.median(times['release']) / statistics.median(times['ours']):.3g}")
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gafn_lib.bench_release", description=__doc__.splitlines()[0],
                                     epilog="See the module docstring for what is measured.")
    parser.add_argument("release", help="path to a local copy of the release's grid/toy_grid_dag.py")
    parser.add_argument("--heights", default="8,64", help="comma-separated grid heights (default 8,64)")
    parser.add_argument("--warmup", type=int, default=300, help="training steps of each before timing (default 300)")
    parser.add_argument("--steps", type=int, default=25, help="steps per timed block (default 25)")
    parser.add_argument("--reps", type=int, default=4, help="alternating timed blocks of each (default 4)")
    parser.add_argument("--json", action="store_true", help="one JSON line per height")
    args = parser.parse_args(argv)
    try:
        heights = [int(h) for h in args.heights.split(",")]
    except ValueError:
        parser.error(f"--heights takes comma-separated integers, got {args.heights!r}")
    for name in ("warmup", "steps", "reps"):
        if getattr(args, name) < (0 if name == "warmup" else 1):
            parser.error(f"--{name} must be >= {0 if name == 'warmup' else 1}, got {getattr(args, name)}")
    for height in heights:
        try:
            row = compare(args.release, height, args.warmup, args.steps, args.reps)
        except (FileNotFoundError, ValueError) as err:
            parser.error(str(err))
        if args.json:
            print(json.dumps(row), flush=True)
        else:
            print(f"H={height}: release {row['release_ms_per_step_min']} ms/step (length {row['release_mean_length']}), "
                  f"ours {row['ours_ms_per_step_min']} ms/step (length {row['ours_mean_length']}): "
                  f"{row['ratio_min']}x (min over blocks), {row['ratio_median']}x (median)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
