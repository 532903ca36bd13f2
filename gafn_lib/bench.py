"""Speed and memory benchmark.

``python -m gafn_lib.bench --json``: one JSON line per configuration with
``seconds_per_1000_steps`` (training steps of 16 trajectories, metrics logging excluded), the
measured steps, the mean trajectory length and the peak resident memory of the process (each
configuration runs in its own fresh process, 1 torch thread). Defaults: TB and GAFlowNet (joint,
RND) on the paper's 2-D sparse grid at H=8 and H=64.

``python -m gafn_lib.bench --ensemble K --json`` (``K`` may be a list, ``--ensemble 1,4,12,32``):
GAFlowNet (TB, joint, RND) ensembles of ``K`` seeds at each height of ``--heights`` (default
8,16,32,64). Per row: ``K``, ``height``, ``run_steps_per_second`` (runs × steps per second),
``speedup`` against the same ``K`` runs trained one after another (a solo run's steps per second,
measured in the same process right before), ``peak_memory_mb`` of the process, and the compute
floor: ``gflop_per_step`` (multiply-adds ×2 through the dense layers, backward counted as twice the
forward), ``gflops_measured`` (a 1600×256 @ 256×256 float32 matmul on this machine) and
``floor_ms_per_step`` = their ratio, beside ``ms_per_step``.

``--compare-sampling`` (with ``--ensemble``): the same ``K`` GAFlowNet seeds trained twice side by
side, with ``sampling="auto"`` and ``sampling="per_move"`` (:attr:`gafn_lib.core.config.TrainConfig.sampling`),
in alternating blocks: ``ms_per_step`` of each, their ratio, which path ``"auto"`` took, and
``same_numbers`` (every member's loss at every step, and the parameters at the end, equal bit for
bit between the two).

``--method ppo`` (with ``--ensemble``): the same row for ensembles of ``K`` PPO seeds
(:class:`gafn_lib.baselines.ppo_ensemble.PPOEnsembleTrainer`, no intrinsic reward); its floor
counts the sampling / old-policy forwards and the ``epochs × n_minibatches`` training passes.
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
    from gafn_lib.core.runtime import configure_threads
    from gafn_lib.core.trainer import GridTrainer
    from gafn_lib.grid.config import GridTrainConfig

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


def matmul_gflops(repeats: int = 50) -> float:
    """Measured float32 GFLOP/s of a 1600×256 @ 256×256 matmul on one thread (best of 3)."""
    import torch

    a, b = torch.randn(1600, 256), torch.randn(256, 256)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        best = min(best, (time.perf_counter() - start) / repeats)
    return 2 * 1600 * 256 * 256 / best / 1e9


def step_flops(trainer) -> float:
    """Multiply-adds ×2 of the last step through the dense layers: sampling forwards, the training
    forward and backward (≈ 2× forward) of the policy, and of the RND predictor (its target is cached
    on enumerable environments). The first layer is a gather (not counted)."""
    rows = trainer.last_step_rows
    policy = trainer.policy_net.net.sizes
    dense = lambda sizes: 2 * sum(a * b for a, b in zip(sizes[1:-1], sizes[2:]))
    flops = rows["sample"] * dense(policy) + 3 * rows["policy"] * dense(policy)
    if trainer.rnd is not None:
        rnd_sizes = trainer.rnd.predictor.sizes
        flops += 3 * rows["rnd"] * dense(rnd_sizes)
        if not trainer.rnd.target_table.numel():
            flops += rows["rnd"] * dense(rnd_sizes)
    return float(flops)


def _mode_name(trainer) -> str:
    """How ``trainer`` evaluates its policy: ``"table"``, ``"sampling-table"`` or ``"per-move"``."""
    return "table" if trainer.table_mode else ("sampling-table" if trainer.sampling_table else "per-move")


def _timed(trainer, steps: int) -> tuple[float, float, float]:
    """Seconds per step, mean trajectory length, mean FLOPs per step over ``steps`` steps."""
    lengths, flops = [], []
    start = time.perf_counter()
    for _ in range(steps):
        infos = trainer.step()
        lengths.append(sum(i["mean_length"] for i in infos) / len(infos))
        flops.append(step_flops(trainer))
    return (time.perf_counter() - start) / steps, sum(lengths) / steps, sum(flops) / steps


def _measure_ensemble(k: int, height: int, steps: int, warmup: int, ndim: int, queue) -> None:
    from gafn_lib.core.ensemble import EnsembleTrainer
    from gafn_lib.core.runtime import configure_threads
    from gafn_lib.grid.config import GridTrainConfig

    configure_threads(1)
    configs = [GridTrainConfig(ndim=ndim, height=height, objective="tb", augment="joint", n_steps=10**9,
                               batch_size=16, seed=s, threads=1) for s in range(k)]
    solo = EnsembleTrainer(configs[:1])
    ensemble = EnsembleTrainer(configs) if k > 1 else solo
    for _ in range(warmup):
        solo.step()
        if k > 1:
            ensemble.step()
    # alternate short blocks so that both see the same machine load; keep the best block of each
    block = max(1, steps // 3)
    solo_s, ens_s = [], []
    lengths, flops = [], []
    for _ in range(3):
        s_sec, _, _ = _timed(solo, block)
        solo_s.append(s_sec)
        e_sec, length, flop = _timed(ensemble, block)
        ens_s.append(e_sec)
        lengths.append(length)
        flops.append(flop)
    gflops = matmul_gflops()
    sec = min(ens_s)
    solo_sec = min(solo_s)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    flop = sum(flops) / len(flops)
    queue.put({
        "K": k, "height": height, "ndim": ndim, "objective": "tb", "augment": "joint", "intrinsic": "rnd",
        "batch_size": 16, "threads": 1, "steps_measured": 3 * block, "mode": _mode_name(ensemble),
        "ms_per_step": round(sec * 1e3, 2), "run_steps_per_second": round(k / sec, 1),
        "solo_steps_per_second": round(1 / solo_sec, 1), "speedup": round(k * solo_sec / sec, 2),
        "mean_trajectory_length": round(sum(lengths) / len(lengths), 1), "peak_memory_mb": round(peak_mb, 1),
        "gflop_per_step": round(flop / 1e9, 4), "gflops_measured": round(gflops, 1),
        "floor_ms_per_step": round(flop / (gflops * 1e9) * 1e3, 2),
    })


def _measure_sampling(k: int, height: int, steps: int, warmup: int, ndim: int, queue) -> None:
    import torch

    from gafn_lib.core.ensemble import EnsembleTrainer
    from gafn_lib.core.runtime import configure_threads
    from gafn_lib.grid.config import GridTrainConfig

    configure_threads(1)
    trainers = {
        sampling: EnsembleTrainer([GridTrainConfig(ndim=ndim, height=height, objective="tb", augment="joint", n_steps=10**9,
                                                   batch_size=16, seed=s, threads=1, sampling=sampling) for s in range(k)])
        for sampling in ("auto", "per_move")
    }
    losses: dict[str, list] = {name: [] for name in trainers}
    seconds: dict[str, list[float]] = {name: [] for name in trainers}
    lengths = []

    def run(name: str, n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            infos = trainers[name].step()
            losses[name].append([i["loss"] for i in infos])
            if name == "auto":
                lengths.append(sum(i["mean_length"] for i in infos) / len(infos))
        return (time.perf_counter() - start) / n

    for name in trainers:
        run(name, warmup)
    block = max(1, steps // 3)
    for _ in range(3):  # alternating blocks: both see the same machine load; keep the best block of each
        for name in trainers:
            seconds[name].append(run(name, block))
    params = {name: torch.cat([p.detach().flatten() for p in t.policy_net.parameters()]) for name, t in trainers.items()}
    auto = trainers["auto"]
    queue.put({
        "K": k, "height": height, "ndim": ndim, "objective": "tb", "augment": "joint", "intrinsic": "rnd", "batch_size": 16,
        "threads": 1, "steps_measured": 3 * block,
        "auto_mode": _mode_name(auto),
        "auto_ms_per_step": round(min(seconds["auto"]) * 1e3, 1), "per_move_ms_per_step": round(min(seconds["per_move"]) * 1e3, 1),
        "per_move_speedup": round(min(seconds["auto"]) / min(seconds["per_move"]), 2),
        "mean_trajectory_length": round(sum(lengths) / len(lengths), 1),
        "same_numbers": losses["auto"] == losses["per_move"] and torch.equal(params["auto"], params["per_move"]),
    })


def _measure_ppo_ensemble(k: int, height: int, steps: int, warmup: int, ndim: int, queue) -> None:
    """The PPO row of ``--method ppo``: ``K`` seeds of PPO (no intrinsic reward) as one
    :class:`gafn_lib.baselines.ppo_ensemble.PPOEnsembleTrainer`, against every member trained
    alone (seeds differ in trajectory length, so one seed alone would bias the ratio), in
    alternating blocks; ``speedup`` = the members' solo seconds per step added up / the ensemble's."""
    from gafn_lib.baselines.ppo import PPOConfig
    from gafn_lib.baselines.ppo_ensemble import PPOEnsembleTrainer
    from gafn_lib.core.runtime import configure_threads

    configure_threads(1)
    configs = [PPOConfig(ndim=ndim, height=height, n_steps=10**9, batch_size=16, seed=s, threads=1) for s in range(k)]
    solos = [PPOEnsembleTrainer([c]) for c in configs]
    ensemble = PPOEnsembleTrainer(configs) if k > 1 else solos[0]
    dense = lambda sizes: 2 * sum(a * b for a, b in zip(sizes[1:-1], sizes[2:]))  # the first layer is a gather

    def flops(trainer) -> float:  # sampling and old-policy forwards, training forward + backward (≈ 3× forward)
        rows, net = trainer.last_step_rows, trainer.policy_net.net.sizes
        total = rows["sample"] * dense(net) + 3 * rows["train"] * dense(net)
        if trainer.rnd is not None:
            total += 3 * rows["rnd"] * dense(trainer.rnd.predictor.sizes)
        return float(total)

    def timed(trainer, n: int) -> tuple[float, float, float]:
        lengths, flop = [], []
        start = time.perf_counter()
        for _ in range(n):
            infos = trainer.step()
            lengths.append(sum(i["mean_length"] for i in infos) / len(infos))
            flop.append(flops(trainer))
        return (time.perf_counter() - start) / n, sum(lengths) / n, sum(flop) / n

    for _ in range(warmup):
        for solo in solos:
            solo.step()
        if k > 1:
            ensemble.step()
    block = max(1, steps // 3)
    solo_s, ens_s, lengths, flop = [], [], [], []
    for _ in range(3):
        solo_s.append(sum(timed(solo, block)[0] for solo in solos))  # the K runs one after another
        e_sec, length, f = timed(ensemble, block)
        ens_s.append(e_sec)
        lengths.append(length)
        flop.append(f)
    gflops = matmul_gflops()
    sec, solo_sec = min(ens_s), min(solo_s)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    f = sum(flop) / len(flop)
    queue.put({
        "method": "ppo", "K": k, "height": height, "ndim": ndim, "intrinsic": "none", "batch_size": 16, "threads": 1,
        "steps_measured": 3 * block, "mode": "table" if ensemble.table_mode else "per-move",
        "ms_per_step": round(sec * 1e3, 2), "run_steps_per_second": round(k / sec, 1),
        "solo_steps_per_second": round(k / solo_sec, 1), "speedup": round(solo_sec / sec, 2),
        "mean_trajectory_length": round(sum(lengths) / len(lengths), 1), "peak_memory_mb": round(peak_mb, 1),
        "gflop_per_step": round(f / 1e9, 4), "gflops_measured": round(gflops, 1),
        "floor_ms_per_step": round(f / (gflops * 1e9) * 1e3, 2),
    })


def _in_fresh_process(target, args) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gafn_lib.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=None, help="training steps measured per configuration (default 1000; 30 with --ensemble)")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--ndim", type=int, default=2)
    parser.add_argument("--heights", default=None, help="comma-separated grid heights (default 8,64; 8,16,32,64 with --ensemble)")
    parser.add_argument("--ensemble", default=None, help="ensemble sizes K, comma-separated (e.g. 1,4,12,32)")
    parser.add_argument("--json", action="store_true", help="one JSON line per configuration")
    parser.add_argument("--method", choices=("gafn", "ppo"), default="gafn",
                        help="with --ensemble: GAFlowNet (TB, joint, RND; default) or PPO ensembles")
    parser.add_argument("--compare-sampling", action="store_true",
                        help="with --ensemble: GAFlowNet ensembles with sampling='auto' against sampling='per_move', side by side")
    args = parser.parse_args(argv)
    if args.compare_sampling and (args.ensemble is None or args.method != "gafn"):
        parser.error("--compare-sampling needs --ensemble (and the default --method gafn)")
    if args.method != "gafn" and args.ensemble is None:
        parser.error("--method ppo needs --ensemble (--ensemble 1 measures a solo run)")
    if args.ensemble is not None:
        sizes = [int(k) for k in args.ensemble.split(",")]
        heights = [int(h) for h in (args.heights or "8,16,32,64").split(",")]
        if any(k < 1 for k in sizes) or any(h < 3 for h in heights):
            parser.error("--ensemble sizes must be >= 1 and --heights >= 3")
        steps = args.steps or 30
        for height in heights:
            for k in sizes:
                measure = _measure_sampling if args.compare_sampling else (_measure_ppo_ensemble if args.method == "ppo" else _measure_ensemble)
                result = _in_fresh_process(measure, (k, height, steps, args.warmup, args.ndim))
                if args.json:
                    print(json.dumps(result), flush=True)
                elif args.compare_sampling:
                    print(f"K={k:<3} H={height:<4} auto ({result['auto_mode']}) {result['auto_ms_per_step']:8.1f} ms/step  "
                          f"per_move {result['per_move_ms_per_step']:8.1f} ms/step  speedup {result['per_move_speedup']:5.2f}  "
                          f"same numbers: {result['same_numbers']}", flush=True)
                else:
                    print(f"K={k:<3} H={height:<4} {result['run_steps_per_second']:8.1f} run-steps/s  speedup {result['speedup']:5.2f}  "
                          f"{result['ms_per_step']:8.2f} ms/step (floor {result['floor_ms_per_step']:.2f})  "
                          f"peak={result['peak_memory_mb']:.0f} MB", flush=True)
        return 0
    heights = {int(h) for h in (args.heights or "8,64").split(",")}
    steps = args.steps or 1000
    for case in (c for c in DEFAULT_CASES if c["height"] in heights):
        result = _in_fresh_process(_measure, (case, steps, args.warmup, args.ndim))
        if args.json:
            print(json.dumps(result), flush=True)
        else:
            print(f"{result['config']:>16} H={result['height']:<4} {result['seconds_per_1000_steps']:8.2f} s/1000 steps  "
                  f"len={result['mean_trajectory_length']:6.1f}  peak={result['peak_memory_mb']:.0f} MB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
