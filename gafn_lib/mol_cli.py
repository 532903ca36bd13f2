"""Command line for molecules: ``python -m gafn_lib mols ...``.

With ``--json`` the last line printed is one JSON object: ``top10_reward``, ``n_modes``,
``top10_tanimoto``, ``molecules_generated``, ``wall_seconds``, ``steps`` and the other final
metrics, plus ``algo`` and ``config``.

Examples:
    python -m gafn_lib mols --algo gafn --objective fm --augment joint --steps 30000 --seed 0 --json
    python -m gafn_lib mols --algo gfn --objective tb --steps 2000          # plain GFlowNet
"""

from __future__ import annotations

import argparse
import json
import sys

from gafn_lib.augment import AUGMENT_MODES
from gafn_lib.envs.mol_reward import MOL_REWARDS
from gafn_lib.objectives import OBJECTIVES

MOL_ALGOS = ("gafn", "gfn")


def build_mol_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gafn_lib mols", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--algo", choices=MOL_ALGOS, default="gafn",
                   help="gafn: augmented (default --augment joint, RND); gfn: plain GFlowNet (augment none)")
    p.add_argument("--objective", choices=OBJECTIVES, default="fm")
    p.add_argument("--augment", choices=AUGMENT_MODES, default=None, help="default: joint for gafn, none for gfn")
    p.add_argument("--eta", type=float, default=0.1)
    p.add_argument("--epsilon", type=float, default=0.05)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--lr-logz", type=float, default=0.1)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--steps", type=int, default=250_000)
    p.add_argument("--min-blocks", type=int, default=2)
    p.add_argument("--max-blocks", type=int, default=8)
    p.add_argument("--reward", choices=MOL_REWARDS, default="sparse")
    p.add_argument("--reward-exponent", type=float, default=10.0)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--n-rounds", type=int, default=3)
    p.add_argument("--log-every", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", action="store_true", help="print the final metrics as one JSON line (last line)")
    p.add_argument("--no-progress", action="store_true")
    return p


def config_from_args(args: argparse.Namespace):
    from gafn_lib.mol_train import MolTrainConfig

    augment = args.augment if args.augment is not None else ("joint" if args.algo == "gafn" else "none")
    if args.algo == "gfn" and augment != "none":
        raise ValueError(f"--algo gfn is the plain GFlowNet: use --augment none (got {augment!r}) or --algo gafn")
    if args.algo == "gafn" and augment == "none":
        raise ValueError("--algo gafn needs an augmentation (edge, node or joint); use --algo gfn for none")
    return MolTrainConfig(
        objective=args.objective, augment=augment, eta=args.eta, epsilon=args.epsilon, lr=args.lr,
        lr_logz=args.lr_logz, batch_size=args.batch_size, n_steps=args.steps, min_blocks=args.min_blocks,
        max_blocks=args.max_blocks, reward=args.reward, reward_exponent=args.reward_exponent, hidden=args.hidden,
        n_rounds=args.n_rounds, log_every=min(args.log_every, args.steps) if args.steps > 0 else args.log_every,
        seed=args.seed, device=args.device, threads=args.threads,
    )


def main_mols(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m gafn_lib mols``; returns the process exit code."""
    parser = build_mol_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        config = config_from_args(args)
    except ValueError as err:
        parser.error(str(err))
    from gafn_lib.mol_train import MolTrainer, summary

    trainer = MolTrainer(config)
    history = trainer.train(progress=not args.no_progress and sys.stderr.isatty())
    result = summary(history, config)
    result["algo"] = args.algo
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            if key != "config":
                print(f"{key:>20}: {value}")
    return 0
