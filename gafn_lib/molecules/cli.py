"""Command line for molecules: ``python -m gafn_lib mols ...``.

With ``--json`` the last line printed is one JSON object: ``top10_reward``, ``n_modes``,
``top10_tanimoto``, ``molecules_generated``, ``wall_seconds``, ``steps`` and the other final
metrics, plus ``algo`` and ``config``.

``--algo``: ``gafn`` (augmented GFlowNet), ``gfn`` (plain GFlowNet), ``ppo``
(:mod:`gafn_lib.baselines.mol_ppo`), ``mars`` (:mod:`gafn_lib.baselines.mars`) or ``random``
(:mod:`gafn_lib.baselines.random_search`, 4 molecules per step; ``--early-stop-reg`` applies).
The public release's options (``--log-reg-c``, ``--leaf-coef``, ``--terminal``, ``--dtype``,
``--rnd-features graph``; docs/method.md, molecules) are GFlowNet flags. For ``ppo``,
``--batch-size`` is the number of trajectories per iteration; for ``mars`` the number of chains
(default 16 for both); ``--steps`` counts iterations / MCMC steps. GFlowNet-only flags
(``--objective``, ``--augment``, ``--eta``, ``--epsilon``, ``--lr-logz``) are rejected for the
baselines, and ``--ppo-*`` / ``--mars-*`` flags for the other algorithms.

Examples:
    python -m gafn_lib mols --algo gafn --objective fm --augment joint --steps 30000 --seed 0 --json
    python -m gafn_lib mols --algo gfn --objective tb --steps 2000          # plain GFlowNet
    python -m gafn_lib mols --algo ppo --steps 500 --reward dense --json
    python -m gafn_lib mols --algo mars --steps 500 --batch-size 32 --json   # 32 chains
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict

from gafn_lib.core.augment import AUGMENT_MODES
from gafn_lib.core.objectives import OBJECTIVES
from gafn_lib.envs.mol_reward import MOL_REWARDS
from gafn_lib.molecules.config import MOL_DTYPES, RND_FEATURES, TERMINAL_BONUS

MOL_ALGOS = ("gafn", "gfn", "ppo", "mars", "random")
#: GFlowNet-only flags (dest names) and their defaults for --algo gafn / gfn.
GFN_DEFAULTS = {"objective": "fm", "eta": 0.1, "rnd_features": "fixed", "epsilon": 0.05, "lr_logz": 0.1,
                "terminal": "paper", "log_reg_c": 0.0, "leaf_coef": None, "dtype": "float32"}
#: Default of --early-stop-reg (GFlowNets and random search).
EARLY_STOP_DEFAULT = 0.1


def build_mol_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gafn_lib mols", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--algo", choices=MOL_ALGOS, default="gafn",
                   help="gafn: augmented (default --augment joint, RND); gfn: plain GFlowNet (augment none); ppo; mars")
    p.add_argument("--objective", choices=OBJECTIVES, default=None, help="default fm (GFlowNets only)")
    p.add_argument("--augment", choices=AUGMENT_MODES, default=None, help="default: joint for gafn, none for gfn")
    p.add_argument("--eta", type=float, default=None, help="default 0.1 (GFlowNets only)")
    p.add_argument("--rnd-features", choices=RND_FEATURES, default=None,
                   help="what RND reads: a frozen random encoder's embedding (default), the policy's, or graph: the release's "
                        "block-graph target/predictor (GFlowNets only)")
    p.add_argument("--terminal", choices=TERMINAL_BONUS, default=None, help="joint terminal term (default paper; GFlowNets only)")
    p.add_argument("--log-reg-c", type=float, default=None, help="FM epsilon inside both logs (default 0; release 2.5e-5)")
    p.add_argument("--leaf-coef", type=float, default=None, help="FM balanced loss weight of terminal terms (default off; release 10)")
    p.add_argument("--dtype", choices=tuple(MOL_DTYPES), default=None, help="default float32 (release float64; FM only)")
    p.add_argument("--early-stop-reg", type=float, default=None,
                   help=f"probability of stopping at a drawn length (default {EARLY_STOP_DEFAULT}; GFlowNets and random)")
    p.add_argument("--epsilon", type=float, default=None, help="default 0.05 (GFlowNets only)")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--lr-logz", type=float, default=None, help="default 0.1 (GFlowNets only)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="trajectories per step (default 4), PPO trajectories per iteration (16) or MARS chains (16)")
    p.add_argument("--steps", type=int, default=250_000)
    p.add_argument("--min-blocks", type=int, default=2)
    p.add_argument("--max-blocks", type=int, default=8)
    p.add_argument("--reward", choices=MOL_REWARDS, default="sparse")
    p.add_argument("--reward-exponent", type=float, default=10.0)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--n-rounds", type=int, default=3)
    p.add_argument("--log-every", type=int, default=500)
    p.add_argument("--ppo-epochs", type=int, default=None, help="PPO passes over each batch (default 4)")
    p.add_argument("--ppo-clip", type=float, default=None, help="PPO ratio clip (default 0.2)")
    p.add_argument("--ppo-entropy", type=float, default=None, help="PPO entropy coefficient (default 0.01)")
    p.add_argument("--mars-temperature-init", type=float, default=None, help="MARS initial temperature (default 1.0)")
    p.add_argument("--mars-temperature-final", type=float, default=None, help="MARS final temperature (default 0.1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", action="store_true", help="print the final metrics as one JSON line (last line)")
    p.add_argument("--no-progress", action="store_true")
    return p


def _baseline_config(args: argparse.Namespace, log_every: int):
    """The config of ``--algo ppo`` or ``--algo mars``."""
    for dest in (*GFN_DEFAULTS, "augment"):
        if getattr(args, dest) is not None:
            raise ValueError(f"--{dest.replace('_', '-')} is a GFlowNet option, not used by --algo {args.algo}")
    for dest, value in vars(args).items():
        if dest.startswith(("ppo_", "mars_")) and not dest.startswith(args.algo + "_") and value is not None:
            raise ValueError(f"--{dest.replace('_', '-')} is not used by --algo {args.algo}")
    if args.algo == "random":
        from gafn_lib.baselines.random_search import RandomSearchConfig

        return RandomSearchConfig(
            batch_size=args.batch_size if args.batch_size is not None else 4, n_steps=args.steps, min_blocks=args.min_blocks,
            max_blocks=args.max_blocks, reward=args.reward, reward_exponent=args.reward_exponent, hidden=args.hidden,
            n_rounds=args.n_rounds, log_every=log_every, seed=args.seed, device=args.device, threads=args.threads,
            early_stop_reg=EARLY_STOP_DEFAULT if args.early_stop_reg is None else args.early_stop_reg,
        )
    if args.early_stop_reg is not None:
        raise ValueError(f"--early-stop-reg is not used by --algo {args.algo}")
    own = args.algo
    common = dict(
        lr=args.lr, n_steps=args.steps, min_blocks=args.min_blocks, max_blocks=args.max_blocks, reward=args.reward,
        reward_exponent=args.reward_exponent, hidden=args.hidden, n_rounds=args.n_rounds, log_every=log_every,
        seed=args.seed, device=args.device, threads=args.threads,
    )
    if own == "ppo":
        from gafn_lib.baselines.mol_ppo import MolPPOConfig

        extra = {field: getattr(args, flag) for flag, field in (("ppo_epochs", "epochs"), ("ppo_clip", "clip"), ("ppo_entropy", "entropy_coef"))
                 if getattr(args, flag) is not None}
        if args.batch_size is not None:
            extra["batch_size"] = args.batch_size
        return MolPPOConfig(**common, **extra)
    from gafn_lib.baselines.mars import MARSConfig

    extra = {field: getattr(args, flag) for flag, field in (("mars_temperature_init", "temperature_init"), ("mars_temperature_final", "temperature_final"))
             if getattr(args, flag) is not None}
    if args.batch_size is not None:
        extra["n_chains"] = args.batch_size
    return MARSConfig(**common, **extra)


def config_from_args(args: argparse.Namespace):
    from gafn_lib.molecules.config import MolTrainConfig

    log_every = min(args.log_every, args.steps) if args.steps > 0 else args.log_every
    if args.algo in ("ppo", "mars", "random"):
        return _baseline_config(args, log_every)
    for dest, value in vars(args).items():
        if dest.startswith(("ppo_", "mars_")) and value is not None:
            raise ValueError(f"--{dest.replace('_', '-')} is not used by --algo {args.algo}")
    gfn = {dest: (GFN_DEFAULTS[dest] if getattr(args, dest) is None else getattr(args, dest)) for dest in GFN_DEFAULTS}
    augment = args.augment if args.augment is not None else ("joint" if args.algo == "gafn" else "none")
    if args.algo == "gfn" and augment != "none":
        raise ValueError(f"--algo gfn is the plain GFlowNet: use --augment none (got {augment!r}) or --algo gafn")
    if args.algo == "gafn" and augment == "none":
        raise ValueError("--algo gafn needs an augmentation (edge, node or joint); use --algo gfn for none")
    return MolTrainConfig(
        objective=gfn["objective"], augment=augment, eta=gfn["eta"], rnd_features=gfn["rnd_features"], epsilon=gfn["epsilon"], lr=args.lr,
        terminal=gfn["terminal"], log_reg_c=gfn["log_reg_c"], leaf_coef=gfn["leaf_coef"], dtype=gfn["dtype"],
        early_stop_reg=EARLY_STOP_DEFAULT if args.early_stop_reg is None else args.early_stop_reg,
        lr_logz=gfn["lr_logz"], batch_size=args.batch_size if args.batch_size is not None else 4, n_steps=args.steps,
        min_blocks=args.min_blocks, max_blocks=args.max_blocks, reward=args.reward, reward_exponent=args.reward_exponent,
        hidden=args.hidden, n_rounds=args.n_rounds, log_every=log_every, seed=args.seed, device=args.device, threads=args.threads,
    )


def main_mols(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m gafn_lib mols``; returns the process exit code."""
    parser = build_mol_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        config = config_from_args(args)
    except ValueError as err:
        parser.error(str(err))
    from gafn_lib.registry import make_trainer

    trainer = make_trainer(config)
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


def summary(history, config) -> dict:
    """Final metrics of a run as the command line prints them (NaN → None) plus the config."""
    final = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in history.final.items()}
    final["steps"] = final.pop("step")
    final["config"] = asdict(config)
    return final
