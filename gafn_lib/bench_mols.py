"""Throughput benchmark of the sEH proxy on random fragment-MDP molecules; prints one JSON line.

Usage: ``python -m gafn_lib.bench_mols [--n 2000] [--batch-size 128] [--threads 1]``.
Builds ``n`` random molecules (uniform random walks of 2–8 blocks, molecule construction not
timed), then times :meth:`SEHProxy.score_mols` with the cache off (featurisation + forward), and
separately the forward pass alone.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from gafn_lib.envs.fragments import FragmentMDP
from gafn_lib.envs.sehproxy import SEHProxy, featurise
from gafn_lib.core.runtime import configure_threads


def benchmark(n: int = 2000, batch_size: int = 128, seed: int = 0) -> dict[str, float]:
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
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default $GAFN_NUM_THREADS or 1)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    threads = configure_threads(args.threads)
    result = benchmark(args.n, args.batch_size, args.seed)
    result["torch_threads"] = threads
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
