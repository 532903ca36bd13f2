"""Throughput of molecule training steps (every method) and of the sEH proxy; prints one JSON line.

Usage: ``python -m gafn_lib.bench_mols [--json] [--steps 40] [--warmup 5] [--threads 1] [--preset release]``.

**Steps.** For each method of notebook 06 (GAFlowNet, GFlowNet, PPO, MARS, Random) a trainer with
its default config is built (paper reward, one shared proxy and MDP), ``warmup`` steps are run, then
``steps`` steps are timed. Reported: ``steps_per_second`` and ``molecules_per_second`` (wall clock)
and the same from CPU time (``cpu_steps_per_second``: the process's CPU seconds, less sensitive to
other processes on a shared machine). A step is 4 molecules for GAFlowNet, GFlowNet and Random,
16 for PPO (one iteration) and MARS (one proposal per chain).

**The release preset** (``--preset release``: GAFlowNet and GFlowNet in
``MolTrainConfig.preset("release")``, the public release's network 256 wide with 10 rounds). Its
network computes the nodes that share an ancestor path once (``ReleaseStateEmbedding.share_nodes``);
with ``--compare-sharing`` each GFlowNet method is also timed with that off (every node computed,
the same function: the "before"), the two trainers taking turns in ``--rounds`` blocks of
``steps / rounds`` steps (A B A B, so a change of machine load hits both), and the row carries
``speedup_shared_nodes`` = CPU seconds per step before / after, and ``speedup_per_round`` (the
ratio block by block); "before" computes every node of every call, so the sampler's path cache
is off in it too. ``--compare-sampling-cache`` times the sampler with and without its
:class:`~gafn_lib.molecules.release_net.AncestorPathCache` the same way (``speedup_sampling_cache``).

**Proxy.** ``n_proxy`` random molecules (uniform random walks of 2–8 blocks, construction not
timed) scored by :meth:`SEHProxy.score_mols` with the cache off (featurisation + forward, batches
of ``--proxy-batch-size``), and the forward pass alone.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from gafn_lib.core.runtime import configure_threads
from gafn_lib.envs.fragments import FragmentMDP
from gafn_lib.envs.sehproxy import SEHProxy, featurise

METHODS = ("GAFlowNet", "GFlowNet", "PPO", "MARS", "Random")


def make_trainer(method: str, proxy: SEHProxy, mdp: FragmentMDP, seed: int = 0, preset: str = "paper"):
    """The method's trainer with its default config (paper reward), sharing ``proxy`` and ``mdp``;
    the GFlowNet methods in ``MolTrainConfig.preset(preset)`` (the baselines have no preset)."""
    if method in ("GAFlowNet", "GFlowNet"):
        from gafn_lib.molecules.trainer import MolTrainConfig, MolTrainer

        config = MolTrainConfig.preset(preset, seed=seed, augment="joint" if method == "GAFlowNet" else "none")
        return MolTrainer(config, proxy, mdp)
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


def set_node_sharing(trainer, on: bool) -> int:
    """Switch ``share_nodes`` of every release-network trunk in ``trainer`` (policy, RND); returns how many."""
    from gafn_lib.molecules.release_net import ReleaseStateEmbedding

    trunks = [m for m in trainer.__dict__.values() if isinstance(m, torch.nn.Module) for m in m.modules() if isinstance(m, ReleaseStateEmbedding)]
    for trunk in trunks:
        trunk.share_nodes = on
    return len(trunks)


def set_sampling_cache(trainer, on: bool) -> int:
    """Switch ``cached_sampling`` of the release policy network in ``trainer``; returns how many (0 or 1)."""
    from gafn_lib.molecules.release_net import ReleaseGraphNet

    nets = [m for m in trainer.__dict__.values() if isinstance(m, ReleaseGraphNet)]
    for net in nets:
        net.cached_sampling = on
    return len(nets)


def _take_turns(method: str, proxy: SEHProxy, mdp: FragmentMDP, steps: int, warmup: int, seed: int, rounds: int,
                switch_off) -> tuple[list[float], list[float]]:
    """CPU seconds per step of two trainers of ``method`` (release preset, same seed), the second
    with ``switch_off(trainer)`` applied, taking turns in ``rounds`` blocks (A B A B): ``(on, off)``."""
    if rounds < 1 or steps < rounds:
        raise ValueError(f"rounds must be >= 1 and steps >= rounds, got steps={steps}, rounds={rounds}")
    on, off = make_trainer(method, proxy, mdp, seed, "release"), make_trainer(method, proxy, mdp, seed, "release")
    if switch_off(off) == 0:
        raise ValueError(f"{method}: no release network to compare")
    for trainer in (on, off):
        for _ in range(warmup):
            trainer.step()
    cpu: dict[str, list[float]] = {"on": [], "off": []}
    for _ in range(rounds):
        for name, trainer in (("on", on), ("off", off)):
            start = time.process_time()
            for _ in range(steps // rounds):
                trainer.step()
            cpu[name].append((time.process_time() - start) / (steps // rounds))
    return cpu["on"], cpu["off"]


def _speedup_row(on: list[float], off: list[float], on_name: str, off_name: str, speedup: str) -> dict[str, float]:
    """CPU steps/s of both (``cpu_steps_per_second_<name>``), ``speedup`` = mean CPU seconds per
    step off / on, and ``speedup_per_round`` (the same block by block)."""
    return {
        f"cpu_steps_per_second_{off_name}": 1 / float(np.mean(off)),
        f"cpu_steps_per_second_{on_name}": 1 / float(np.mean(on)),
        speedup: float(np.mean(off) / np.mean(on)),
        "speedup_per_round": [round(b / a, 3) for a, b in zip(on, off)],
    }


def compare_sharing(method: str, proxy: SEHProxy, mdp: FragmentMDP, steps: int, warmup: int, seed: int, rounds: int = 4) -> dict[str, float]:
    """CPU seconds per step of ``method`` (release preset) as it runs (shared nodes, cached
    sampling) and with every node of every call computed (``share_nodes`` off, which also turns the
    sampling cache off), two trainers of the same seed taking turns in ``rounds`` blocks (A B A B)."""
    shared, plain = _take_turns(method, proxy, mdp, steps, warmup, seed, rounds, lambda t: set_node_sharing(t, False))
    return _speedup_row(shared, plain, "shared_nodes", "every_node", "speedup_shared_nodes")


def compare_sampling_cache(method: str, proxy: SEHProxy, mdp: FragmentMDP, steps: int, warmup: int, seed: int, rounds: int = 4) -> dict[str, float]:
    """CPU seconds per step of ``method`` (release preset) with and without the sampler's
    :class:`~gafn_lib.molecules.release_net.AncestorPathCache` (nodes shared in both), taking turns."""
    cached, fresh = _take_turns(method, proxy, mdp, steps, warmup, seed, rounds, lambda t: set_sampling_cache(t, False))
    return _speedup_row(cached, fresh, "with_cache", "without_cache", "speedup_sampling_cache")


def benchmark_steps(methods=METHODS, steps: int = 40, warmup: int = 5, seed: int = 0, preset: str = "paper") -> dict[str, dict[str, float]]:
    """Steps and molecules per second (wall and CPU time) of each method's training step (the
    GFlowNet methods in ``preset``)."""
    if steps < 1 or warmup < 0:
        raise ValueError(f"steps must be >= 1 and warmup >= 0, got steps={steps}, warmup={warmup}")
    proxy, mdp = SEHProxy.load(), FragmentMDP()
    out = {}
    for method in methods:
        trainer = make_trainer(method, proxy, mdp, seed, preset)
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
    parser.add_argument("--preset", choices=("paper", "release"), default="paper", help="configuration of GAFlowNet and GFlowNet (default paper)")
    parser.add_argument("--compare-sharing", action="store_true",
                        help="with --preset release: also time GAFlowNet/GFlowNet with every node computed (before), taking turns")
    parser.add_argument("--compare-sampling-cache", action="store_true",
                        help="with --preset release: also time GAFlowNet/GFlowNet without the sampler's path cache (before), taking turns")
    parser.add_argument("--rounds", type=int, default=4, help="turns of --compare-sharing / --compare-sampling-cache (default 4)")
    args = parser.parse_args(argv)
    if args.compare_sharing and args.preset != "release":
        parser.error("--compare-sharing needs --preset release (only the release network shares nodes)")
    if args.compare_sampling_cache and args.preset != "release":
        parser.error("--compare-sampling-cache needs --preset release (only the release network caches paths while sampling)")
    threads = configure_threads(args.threads)
    result = {"torch_threads": threads, "preset": args.preset, "steps": benchmark_steps(args.methods, args.steps, args.warmup, args.seed, args.preset)}
    if args.compare_sharing:
        proxy, mdp = SEHProxy.load(), FragmentMDP()
        result["sharing"] = {m: compare_sharing(m, proxy, mdp, args.steps, args.warmup, args.seed, args.rounds)
                             for m in args.methods if m in ("GAFlowNet", "GFlowNet")}
    if args.compare_sampling_cache:
        proxy, mdp = SEHProxy.load(), FragmentMDP()
        result["sampling_cache"] = {m: compare_sampling_cache(m, proxy, mdp, args.steps, args.warmup, args.seed, args.rounds)
                                    for m in args.methods if m in ("GAFlowNet", "GFlowNet")}
    if args.n_proxy > 0:
        result["proxy"] = benchmark_proxy(args.n_proxy, args.proxy_batch_size, args.seed)
    if not args.json:
        for method, row in result["steps"].items():
            print(f"{method:>10}: {row['steps_per_second']:6.1f} steps/s  {row['molecules_per_second']:7.1f} molecules/s  (CPU time: {row['cpu_steps_per_second']:6.1f} steps/s)")
        for method, row in result.get("sharing", {}).items():
            print(f"{method:>10}, release network, CPU steps/s: every node {row['cpu_steps_per_second_every_node']:.2f}, shared nodes "
                  f"{row['cpu_steps_per_second_shared_nodes']:.2f}: {row['speedup_shared_nodes']:.2f}x (per round {row['speedup_per_round']})")
        for method, row in result.get("sampling_cache", {}).items():
            print(f"{method:>10}, release network, CPU steps/s: sampling without path cache {row['cpu_steps_per_second_without_cache']:.2f}, "
                  f"with {row['cpu_steps_per_second_with_cache']:.2f}: {row['speedup_sampling_cache']:.2f}x (per round {row['speedup_per_round']})")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
