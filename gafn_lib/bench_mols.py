"""Throughput of molecule training steps (every method) and of the sEH proxy; prints one JSON line.

Usage: ``python -m gafn_lib.bench_mols [--json] [--steps 40] [--warmup 5] [--threads 1]``.

**Steps.** For each method of notebook 06 (GAFlowNet, GFlowNet, PPO, MARS, Random) a trainer with
its default config is built (paper reward, one shared proxy and MDP), ``warmup`` steps are run, then
``steps`` steps are timed. Reported: ``steps_per_second`` and ``molecules_per_second`` (wall clock)
and the same from CPU time (``cpu_steps_per_second``: the process's CPU seconds, less sensitive to
other processes on a shared machine). A step is 4 molecules for GAFlowNet, GFlowNet and Random,
16 for PPO (one iteration) and MARS (one proposal per chain).

**Proxy.** ``n_proxy`` random molecules (uniform random walks of 2–8 blocks, construction not
timed) scored by :meth:`SEHProxy.score_mols` with the cache off (featurisation + forward, batches
of ``--proxy-batch-size``), and the forward pass alone.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from gafn_lib.core.runtime import configure_threads
from gafn_lib.envs.fragments import FragmentMDP
from gafn_lib.envs.sehproxy import SEHProxy, featurise

METHODS = ("GAFlowNet", "GFlowNet", "PPO", "MARS", "Random")


def make_trainer(method: str, proxy: SEHProxy, mdp: FragmentMDP, seed: int = 0):
    """The method's trainer with its default config (paper reward), sharing ``proxy`` and ``mdp``."""
    if method in ("GAFlowNet", "GFlowNet"):
        from gafn_lib.molecules.trainer import MolTrainConfig, MolTrainer

        return MolTrainer(MolTrainConfig(seed=seed, augment="joint" if method == "GAFlowNet" else "none"), proxy, mdp)
    if method == "PPO":
        from gafn_lib.baselines.mol_ppo import MolPPOConfig, MolPPOTrainer

        return MolPPOTrainer(MolPPOConfig(seed=seed), proxy, mdp)
    if method == "MARS":
        from gafn_lib.baselines.mars import MARSConfig, MARSTrainer

        return MARSTrainer(MARSConfig(seed=seed), proxy, mdp)
    if method == "Random":
        from gafn_lib.baselines.random_search import RandomSearchConfig, RandomSearchTrainer

        return RandomSearchTrainer(RandomSearchConfig(seed=seed), proxy, mdp)
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def benchmark_steps(methods=METHODS, steps: int = 40, warmup: int = 5, seed: int = 0) -> dict[str, dict[str, float]]:
    """Steps and molecules per second (wall and CPU time) of each method's training step."""
    if steps < 1 or warmup < 0:
        raise ValueError(f"steps must be >= 1 and warmup >= 0, got steps={steps}, warmup={warmup}")
    proxy, mdp = SEHProxy.load(), FragmentMDP()
    out = {}
    for method in methods:
        trainer = make_trainer(method, proxy, mdp, seed)
        for _ in range(warmup):
            trainer.step()
        before = trainer.tracker.n_generated
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(steps):
            trainer.step()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        molecules = trainer.tracker.n_generated - before
        out[method] = {
            "steps_per_second": steps / wall,
            "molecules_per_second": molecules / wall,
            "cpu_steps_per_second": steps / cpu,
            "cpu_molecules_per_second": molecules / cpu,
            "molecules_per_step": molecules / steps,
        }
    return out


def benchmark_proxy(n: int = 2000, batch_size: int = 128, seed: int = 0) -> dict[str, float]:
    """Molecules per second of proxy scoring (end to end, and forward pass only)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    mdp = FragmentMDP()
    rng = np.random.default_rng(seed)
    states = [mdp.random_trajectory(rng)[-1] for _ in range(n)]
    mols = [mdp.to_mol(s) for s in states]
    stems = [mdp.stem_atoms(s) for s in states]
    proxy = SEHProxy.load(batch_size=batch_size, cache=False)
    proxy.score_mols(mols[: min(n, 64)], stems[: min(n, 64)])  # warm-up
    t0 = time.perf_counter()
    proxy.score_mols(mols, stems)
    total = time.perf_counter() - t0
    graphs = [featurise(m, s) for m, s in zip(mols, stems)]
    t0 = time.perf_counter()
    for i in range(0, n, batch_size):
        proxy._forward(graphs[i : i + batch_size])
    forward = time.perf_counter() - t0
    return {
        "molecules": n,
        "batch_size": batch_size,
        "mean_atoms": float(np.mean([m.GetNumAtoms() for m in mols])),
        "molecules_per_second": n / total,
        "forward_only_molecules_per_second": n / forward,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="one JSON line (the default output is a short table, then the JSON line)")
    parser.add_argument("--steps", type=int, default=40, help="timed steps per method (default 40)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--n-proxy", type=int, default=1000, help="molecules of the proxy benchmark (0 skips it)")
    parser.add_argument("--proxy-batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default $GAFN_NUM_THREADS or 1)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    threads = configure_threads(args.threads)
    result = {"torch_threads": threads, "steps": benchmark_steps(args.methods, args.steps, args.warmup, args.seed)}
    if args.n_proxy > 0:
        result["proxy"] = benchmark_proxy(args.n_proxy, args.proxy_batch_size, args.seed)
    if not args.json:
        for method, row in result["steps"].items():
            print(f"{method:>10}: {row['steps_per_second']:6.1f} steps/s  {row['molecules_per_second']:7.1f} molecules/s  (CPU time: {row['cpu_steps_per_second']:6.1f} steps/s)")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
