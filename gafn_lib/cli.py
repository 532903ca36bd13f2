"""Command line: ``python -m gafn_lib grid ...`` and ``python -m gafn_lib mols ...``.

With ``--json`` the last line printed is one JSON object with the run's final metrics.

Examples:
    python -m gafn_lib grid --objective tb --augment joint --intrinsic rnd --height 64 --steps 20000 --seed 0 --json
    python -m gafn_lib grid --augment none --height 16 --steps 2000      # plain GFlowNet (TB)
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from gafn_lib.core.augment import AUGMENT_MODES
from gafn_lib.envs.hypergrid import TERMINATION_RULES
from gafn_lib.envs.rewards import GRID_REWARDS
from gafn_lib.core.intrinsic import intrinsic_names
from gafn_lib.core.objectives import OBJECTIVES
from gafn_lib.registry import method_algos, method_config

#: ``--algo`` of ``python -m gafn_lib grid``: gfn (GAFlowNet, or the plain GFlowNet with --augment
#: none), mcmc, ppo, ppo_rnd (from :data:`gafn_lib.registry.METHODS`).
GRID_ALGOS = method_algos("grid")


def add_grid_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--algo", choices=GRID_ALGOS, default="gfn", help="gfn: (GA)FlowNet; mcmc; ppo; ppo_rnd (PPO + RND bonus)")
    p.add_argument("--ndim", type=int, default=2)
    p.add_argument("--height", type=int, default=8)
    p.add_argument("--reward", choices=GRID_REWARDS, default="sparse")
    p.add_argument("--termination", choices=TERMINATION_RULES, default="edge")
    p.add_argument("--objective", choices=OBJECTIVES, default="tb")
    p.add_argument("--augment", choices=AUGMENT_MODES, default="joint")
    p.add_argument("--intrinsic", choices=intrinsic_names(), default=None,
                   help="any registered intrinsic reward (default: rnd if --augment is not none)")
    p.add_argument("--eta", type=float, default=None, help="intrinsic coefficient (default: the paper's by height)")
    p.add_argument("--steps", type=int, default=20_000)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--epsilon", type=float, default=0.0)
    p.add_argument("--log-every", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mcmc-floor", type=float, default=None, help="MCMC: relative reward floor (default 1e-3 x max R when some R is 0)")
    p.add_argument("--ppo-epochs", type=int, default=None, help="PPO: epochs of minibatch updates per batch (default 4)")
    p.add_argument("--ppo-clip", type=float, default=None, help="PPO: clipping range (default 0.2)")
    p.add_argument("--ppo-entropy", type=float, default=None, help="PPO: entropy bonus coefficient (default 0.1)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None)


def grid_config_from_args(args: argparse.Namespace):
    """Build the config of the chosen ``--algo`` from parsed arguments (through
    :func:`gafn_lib.registry.method_config`)."""
    common = dict(
        ndim=args.ndim, height=args.height, reward=args.reward, termination=args.termination,
        n_steps=args.steps, batch_size=args.batch_size, log_every=args.log_every, seed=args.seed,
        device=args.device, threads=args.threads,
    )
    if args.algo == "gfn":
        method = "gflownet" if args.augment == "none" else "gaflownet"
        return method_config(
            method, "grid", objective=args.objective, augment=args.augment, intrinsic=args.intrinsic, eta=args.eta,
            lr=args.lr, epsilon=args.epsilon, **common,
        )
    from gafn_lib.baselines import baseline_config_from_args

    return baseline_config_from_args(args, common)


def run_grid(args: argparse.Namespace) -> dict:
    from gafn_lib.registry import make_trainer
    from gafn_lib.core.trainer import summary

    config = grid_config_from_args(args)
    trainer = make_trainer(config)
    history = trainer.train(progress=not args.no_progress and sys.stderr.isatty())
    result = summary(history)
    result["algo"] = args.algo
    result["config"] = asdict(config)
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gafn_lib", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    grid = sub.add_parser("grid", help="train on the hypergrid (GridWorld)")
    add_grid_arguments(grid)
    for p in (grid,):
        p.add_argument("--json", action="store_true", help="print the final metrics as one JSON line")
        p.add_argument("--no-progress", action="store_true")
    sub.add_parser("mols", help="molecule generation (see python -m gafn_lib mols --help)", add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "mols":
        from gafn_lib.molecules.cli import main_mols

        return main_mols(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = run_grid(args)
    except ValueError as err:
        parser.error(str(err))
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            if key != "config":
                print(f"{key:>18}: {value}")
    return 0
