"""Speed and memory benchmark: ``python -m gafn_lib.bench --json``.

Prints one JSON line per configuration with ``seconds_per_1000_steps`` (training steps of 16
trajectories, metrics logging excluded), the measured steps, the mean trajectory length and the
peak resident memory of the process (each configuration runs in its own fresh process, 1 torch
thread). Defaults: TB and GAFlowNet (joint, RND) on the paper's 2-D sparse grid at H=8 and H=64.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import time

DEFAULT_CASES = [
    {"name": "tb", "augment": "none", "height": 8},
    {"name": "gafn_joint_rnd", "augment": "joint", "height": 8},
    {"name": "tb", "augment": "none", "height": 64},
    {"name": "gafn_joint_rnd", "augment": "joint", "height": 64},
]


def _measure(case: dict, steps: int, warmup: int, ndim: int, queue) -> None:
    from gafn_lib.grid.config import GridTrainConfig
    from gafn_lib.core.runtime import configure_threads
    from gafn_lib.core.trainer import GridTrainer

    configure_threads(1)
    cfg = GridTrainConfig(ndim=ndim, height=case["height"], objective="tb", augment=case["augment"],
                          n_steps=steps + warmup, batch_size=16, seed=0, threads=1)
    trainer = GridTrainer(cfg)
    for _ in range(warmup):
        trainer.step()
    lengths = []
    start = time.perf_counter()
    for _ in range(steps):
        lengths.append(trainer.step()["mean_length"])
    elapsed = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put({
        "config": case["name"], "objective": "tb", "augment": case["augment"], "ndim": ndim,
        "height": case["height"], "batch_size": 16, "threads": 1, "steps_measured": steps,
        "seconds_per_1000_steps": round(elapsed / steps * 1000, 2),
        "mean_trajectory_length": round(sum(lengths) / len(lengths), 1), "peak_memory_mb": round(peak_mb, 1),
    })


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gafn_lib.bench", description=__doc__)
    parser.add_argument("--steps", type=int, default=1000, help="training steps measured per configuration")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--ndim", type=int, default=2)
    parser.add_argument("--heights", default="8,64")
    parser.add_argument("--json", action="store_true", help="one JSON line per configuration")
    args = parser.parse_args(argv)
    heights = {int(h) for h in args.heights.split(",")}
    ctx = mp.get_context("spawn")
    for case in (c for c in DEFAULT_CASES if c["height"] in heights):
        queue = ctx.Queue()
        proc = ctx.Process(target=_measure, args=(case, args.steps, args.warmup, args.ndim, queue))
        proc.start()
        result = queue.get()
        proc.join()
        if args.json:
            print(json.dumps(result), flush=True)
        else:
            print(f"{result['config']:>16} H={result['height']:<4} {result['seconds_per_1000_steps']:8.2f} s/1000 steps  "
                  f"len={result['mean_trajectory_length']:6.1f}  peak={result['peak_memory_mb']:.0f} MB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
