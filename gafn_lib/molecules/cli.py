"""Command line for molecules: ``python -m gafn_lib mols ...``.

With ``--json`` the last line printed is one JSON object: the last logged row, i.e. the cumulative
``top10_reward``, ``top10_score``, ``top10_score_norm``, ``n_modes``, ``n_modes_separated``,
``top10_tanimoto``, ``molecules_generated``, the last window's ``mean_score``, ``hit_rate``,
``unique_fraction``, ``mean_length`` (the molecules since the previous row; columns defined in
:mod:`gafn_lib.molecules.tracking`), ``wall_seconds``, ``steps`` and the other final metrics, plus
``algo`` and ``config``.

``--algo``: ``gafn`` (augmented GFlowNet), ``gfn`` (plain GFlowNet), ``ppo``
(:mod:`gafn_lib.baselines.mol_ppo`), ``mars`` (:mod:`gafn_lib.baselines.mars`) or ``random``
(:mod:`gafn_lib.baselines.random_search`, 4 molecules per step; ``--early-stop-reg`` applies).
The public release's options (``--log-reg-c``, ``--leaf-coef``, ``--terminal``, ``--dtype``,
``--rnd-features graph``, ``--network release``; docs/method.md, molecules) are GFlowNet flags.
``--preset release`` sets all of them at once (and ``--hidden 256 --n-rounds 10``;
:data:`gafn_lib.molecules.config.MOL_PRESETS`), ``--preset paper`` is the defaults; a flag given
explicitly overrides the preset (GFlowNets only: ``--algo gafn`` or ``gfn``). For ``ppo``,
``--batch-size`` is the number of trajectories per iteration; for ``mars`` the number of chains
(default 16 for both); ``--steps`` counts iterations / MCMC steps. Each ``--algo`` is a method of
:data:`gafn_lib.registry.METHODS`, whose config :func:`config_from_args` builds. GFlowNet-only flags
(:data:`GFN_FLAGS`: ``--objective``, ``--augment``, ``--eta``, ``--epsilon``, ``--lr-logz`` and the
release options) are rejected for the baselines, ``--ppo-*`` / ``--mars-*`` flags for the other
algorithms and ``--early-stop-reg`` for PPO and MARS.

Examples:
    python -m gafn_lib mols --algo gafn --objective fm --augment joint --steps 30000 --seed 0 --json
    python -m gafn_lib mols --algo gfn --objective tb --steps 2000          # plain GFlowNet
    python -m gafn_lib mols --algo gafn --preset release --steps 30000       # the release's configuration
    python -m gafn_lib mols --algo ppo --steps 500 --reward dense --json
    python -m gafn_lib mols --algo mars --steps 500 --batch-size 32 --json   # 32 chains
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, fields

from gafn_lib.core.augment import AUGMENT_MODES
from gafn_lib.core.objectives import OBJECTIVES
from gafn_lib.envs.mol_reward import MOL_REWARDS
from gafn_lib.molecules.config import MOL_DTYPES, MOL_NETWORKS, MOL_PRESETS, RND_FEATURES, TERMINAL_BONUS
from gafn_lib.registry import METHODS, method_algos, method_config, methods_of_algo

#: ``--algo`` of ``python -m gafn_lib mols`` (from :data:`gafn_lib.registry.METHODS`).
MOL_ALGOS = method_algos("molecules")
#: The GFlowNet-only options (argparse dests = config fields), rejected for the baselines.
GFN_FLAGS = ("objective", "augment", "eta", "rnd_features", "epsilon", "lr_logz", "terminal", "log_reg_c", "leaf_coef", "dtype", "network")
#: Every method's own options (argparse dest → config field), e.g. ``ppo_clip → clip``.
METHOD_FLAGS = {dest for (domain, _), spec in METHODS.items() if domain == "molecules" for dest in spec.flags}


def build_mol_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gafn_lib mols", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--algo", choices=MOL_ALGOS, default="gafn",
                   help="gafn: augmented (default --augment joint, RND); gfn: plain GFlowNet (augment none); ppo; mars; random")
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
    p.add_argument("--network", choices=MOL_NETWORKS, default=None,
                   help="block-graph network: compact (default) or release (NNConv + GRU shared over rounds; GFlowNets only)")
    p.add_argument("--preset", default=None,
                   help=f"a named configuration {tuple(MOL_PRESETS)} (GFlowNets only); explicit flags override it")
    p.add_argument("--early-stop-reg", type=float, default=None,
                   help="probability of stopping at a drawn length (default 0.1; GFlowNets and random)")
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
    p.add_argument("--hidden", type=int, default=None, help="network width (default 128; preset release 256)")
    p.add_argument("--n-rounds", type=int, default=None, help="message-passing rounds (default 3; preset release 10)")
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


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def config_from_args(args: argparse.Namespace):
    """The config of ``--algo``'s method (:func:`gafn_lib.registry.method_config`): the method's
    defining fields, then the options given. An option the method does not use raises ``ValueError``
    naming it (a GFlowNet option with a baseline, another method's ``--ppo-*`` / ``--mars-*`` option,
    ``--early-stop-reg`` with PPO or MARS), so a silently ignored option cannot pass for an experiment."""
    (spec,) = methods_of_algo(args.algo, "molecules")
    gflownet = spec.family == "gflownet"
    preset: dict = {}
    if args.preset is not None:
        if args.preset not in MOL_PRESETS:
            raise ValueError(f"--preset must be one of {tuple(MOL_PRESETS)}, got {args.preset!r}")
        if not gflownet:
            raise ValueError(f"--preset is a GFlowNet option, not used by --algo {args.algo}")
        preset = dict(MOL_PRESETS[args.preset])
    if not gflownet:
        for dest in GFN_FLAGS:
            if getattr(args, dest) is not None:
                raise ValueError(f"{_flag(dest)} is a GFlowNet option, not used by --algo {args.algo}")
    for dest in sorted(METHOD_FLAGS - set(spec.flags)):
        if getattr(args, dest) is not None:
            raise ValueError(f"{_flag(dest)} is not used by --algo {args.algo}")
    values = {field: getattr(args, dest) for dest, field in spec.flags.items() if getattr(args, dest) is not None}
    if gflownet:
        values.update({dest: getattr(args, dest) for dest in GFN_FLAGS if getattr(args, dest) is not None})
        augment = values.get("augment", spec.fields["augment"])
        if spec.fields["augment"] == "none" and augment != "none":
            raise ValueError(f"--algo {args.algo} is the plain GFlowNet: use --augment none (got {augment!r}) or --algo gafn")
        if spec.fields["augment"] != "none" and augment == "none":
            raise ValueError(f"--algo {args.algo} needs an augmentation (edge, node or joint); use --algo gfn for none")
    config_fields = {f.name for f in fields(spec.config_class())}
    if args.early_stop_reg is not None:
        if "early_stop_reg" not in config_fields:
            raise ValueError(f"--early-stop-reg is not used by --algo {args.algo}")
        values["early_stop_reg"] = args.early_stop_reg
    if args.batch_size is not None:
        values[spec.batch_field] = args.batch_size
    if "lr" in config_fields:  # random search learns nothing
        values["lr"] = args.lr
    for dest in ("hidden", "n_rounds"):
        if getattr(args, dest) is not None:
            values[dest] = getattr(args, dest)
    return method_config(
        spec.name, "molecules", **{**preset, **values}, n_steps=args.steps, min_blocks=args.min_blocks, max_blocks=args.max_blocks,
        reward=args.reward, reward_exponent=args.reward_exponent,
        log_every=min(args.log_every, args.steps) if args.steps > 0 else args.log_every,
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
    """Final metrics of a run as the command line prints them (NaN → None) plus the config: the last
    row, so the window columns (``mean_score``, ``hit_rate``, ...) are the last window's."""
    final = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in history.final.items()}
    final["steps"] = final.pop("step")
    final["config"] = asdict(config)
    return final
