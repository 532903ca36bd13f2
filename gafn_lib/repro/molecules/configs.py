"""The paper's molecule experiment (§4, notebook 06) as labelled run configs: methods, rewards, budgets, profiles.

Five methods on the fragment MDP with the sEH proxy, compared at the same budget of *molecules
generated* (the x-axis of every panel):

- **GAFlowNet**: flow matching with joint RND augmentation (:class:`gafn_lib.molecules.config.MolTrainConfig`
  defaults: η = 0.1, ε = 0.05, lr 5e-4, 4 trajectories per step); in the ``long`` and ``paper``
  profiles the public release's configuration (``MolTrainConfig.preset("release")``: its network
  256 wide with 10 rounds, its loss, block-graph RND and terminal term; :func:`release_method_fields`);
- **GFlowNet**: the same without augmentation (``augment="none"``; long and paper: the release
  preset with ``augment="none"``);
- **PPO**: :mod:`gafn_lib.baselines.mol_ppo` (16 molecules per iteration);
- **MARS**: :mod:`gafn_lib.baselines.mars` (16 chains, one proposal each per step);
- **Random**: :mod:`gafn_lib.baselines.random_search` (uniform random valid actions, 4 molecules per
  step): the floor every learner must beat.

Every config is built by :func:`gafn_lib.registry.method_config` from the method's entry in
:data:`gafn_lib.registry.METHODS` (the labels above are those entries' labels). The runs are trained
and read by :mod:`gafn_lib.repro.molecules.load` (the shared store ``molecules``).

Rewards. ``PAPER_REWARD`` is the paper's sparse transform ``(score/8)^10`` if ``score > 7`` else
1e-9. At a few thousand molecules almost every molecule gets the floor under it and every method
looks like random search, so the quick profile uses ``REDUCED_REWARD``: the same transform with the
threshold lowered to 6. Measured on 3 000 molecules built by uniformly random actions (5.7 blocks on
average), about 0.9 % score above 6 and 0.1 % above 7 (0.03 % above 7.5): a 6 000-molecule run of a
random sampler sees about 50 rewarded molecules with threshold 6 but about 6 with threshold 7, too
few to fill a top-10. The reduced reward keeps the sparse structure the paper's argument is about (a
flat floor, then a steep reward) at a scale where a few thousand molecules see it.
:func:`reward_label` names the reward in figure titles and claims.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from gafn_lib.registry import method_by_label, method_spec
from gafn_lib.registry import method_config as registry_method_config

#: The methods' labels in tables and figures (from :data:`gafn_lib.registry.METHODS`):
#: "GAFlowNet", "GFlowNet", "PPO", "MARS", "Random".
GAFN, GFN, PPO, MARS, RANDOM = (method_spec(name, "molecules").label for name in ("gaflownet", "gflownet", "ppo", "mars", "random"))
#: Every method of the molecule figure; ``Random`` (uniform random actions) is the floor.
MOL_METHODS = (GAFN, GFN, PPO, MARS, RANDOM)

# Variants of GFlowNet and GAFlowNet, each a configuration of its registry method
# (VARIANT_BASE, variant_fields): the decisive run compares them, and the long and paper profiles
# add GFN_RELEASE_NO_C to the paper's five methods.
#: Label of the GFlowNet in the public release's configuration (``MOL_PRESETS["release"]``).
GFN_RELEASE = "GFlowNet (release)"
#: The same with our compact network (128 wide, 3 rounds): the release's loss (``log_reg_c``,
#: ``leaf_coef``) without its network, about 8x cheaper per step.
GFN_RELEASE_LOSS = "GFlowNet (release loss)"
#: GAFlowNet in the release's configuration (joint augmentation, the release's RND and terminal
#: term): whether the intrinsic flow keeps the release's loss from collapsing where its GFlowNet does.
GAFN_RELEASE = "GAFlowNet (release)"
#: The release GFlowNet with ``log_reg_c = 0``, its one option that the collapse probe
#: (:func:`gafn_lib.repro.molecules.probe.collapse_probe`) found behind its collapse: does the plain
#: GFlowNet of the release's network beat random search once it does not collapse?
GFN_RELEASE_NO_C = "GFlowNet (release, log_reg_c 0)"
#: The release GAFlowNet with ``log_reg_c = 0``: GAFlowNet against GFlowNet with neither handicapped
#: by the option that makes the plain GFlowNet collapse.
GAFN_RELEASE_NO_C = "GAFlowNet (release, log_reg_c 0)"
#: Variant label → the label of the registry method it configures.
VARIANT_BASE = {GFN_RELEASE: GFN, GFN_RELEASE_LOSS: GFN, GFN_RELEASE_NO_C: GFN, GAFN_RELEASE: GAFN, GAFN_RELEASE_NO_C: GAFN}
#: The methods of the long and paper profiles, in table and figure order: the paper's five, whose
#: GFlowNet and GAFlowNet run in the release's configuration, and the release GFlowNet without
#: ``log_reg_c`` (:data:`GFN_RELEASE_NO_C`). The release GFlowNet collapses onto 2–3-block
#: molecules (the decisive run, 2 of 2 seeds; the collapse probe: 6 of 6 runs with ``log_reg_c``, 0 of
#: 6 without), so against it alone "GAFlowNet beats GFlowNet" would measure that collapse; the
#: variant without it is the GFlowNet that can win (in the decisive run it beat the GAFlowNets on
#: the late hit rate).
RELEASE_PROFILE_METHODS = (GAFN, GFN, GFN_RELEASE_NO_C, PPO, MARS, RANDOM)
#: Every label a molecule run can have, in table order (the long profile's first).
KNOWN_METHODS = RELEASE_PROFILE_METHODS + tuple(m for m in VARIANT_BASE if m not in RELEASE_PROFILE_METHODS)

REWARD_FIELDS = ("reward", "reward_threshold", "reward_normaliser", "reward_exponent", "reward_floor")
PAPER_REWARD = {"reward": "sparse", "reward_threshold": 7.0, "reward_normaliser": 8.0, "reward_exponent": 10.0, "reward_floor": 1e-9}
REDUCED_REWARD = {**PAPER_REWARD, "reward_threshold": 6.0}


def reward_label(reward: dict[str, Any]) -> str:
    """A short description of a reward setting, marking anything that is not the paper's."""
    r = {**PAPER_REWARD, **reward}
    if r == PAPER_REWARD:
        return "paper reward: (score/8)^10 if score > 7, else 1e-9"
    if r["reward"] == "sparse":
        text = f"(score/{r['reward_normaliser']:g})^{r['reward_exponent']:g} if score > {r['reward_threshold']:g}, else {r['reward_floor']:g}"
    else:
        text = f"dense: max((score/{r['reward_normaliser']:g})^{r['reward_exponent']:g}, {r['reward_floor']:g})"
    return f"REDUCED-SCALE reward: {text} (paper: threshold 7)"


def scale_note(profile: str, molecules: int, n_seeds: int, reward: dict[str, Any]) -> str:
    """What a run of notebook 06 at this scale can and cannot show (printed by the notebook)."""
    head = f"{profile} profile: {molecules:,} molecules per run (paper: 1,000,000 = 250,000 steps x 4), {n_seeds} seed(s); {reward_label(reward)}."
    if profile == "paper":
        return head + (
            " These are the paper's settings, both GFlowNets in the public release's configuration (network 256 wide, 10 rounds):"
            " about 11 CPU hours per GAFlowNet run, meant for a cluster (docs/distributed.md)."
            + ("" if n_seeds >= 4 else f" With {n_seeds} seeds per method no claim over seeds can be decided (the exact rule needs 4 vs 4).")
        )
    if profile == "smoke":
        return head + " Smoke test only: the numbers mean nothing."
    if profile == "long":
        share = 100 * molecules / 1_000_000
        return head + (
            f" Both GFlowNets in the public release's configuration (network 256 wide, 10 rounds, its loss, RND and terminal term),"
            " and the release GFlowNet without log_reg_c, which does not collapse onto 2-3-block molecules as the release one does."
            f" CAN show: whether, at {share:.2g} % of the paper's budget and under its reward, each learner's sampler produces"
            " high-scoring molecules more often than random search late in training (window hit rate: thousands of molecules"
            " per seed, tested seed by seed), and whether the paper's ordering of top-10 reward, modes and diversity has"
            " appeared by then (past the 30k steps where the release's own comment puts convergence of the reward distribution)."
            f" CANNOT show: the paper's end point (250,000 steps; a method that overtakes late would be missed), nor decide any"
            f" claim over seeds: with {n_seeds} seeds per method the exact rank test cannot reach 2.5 % (it needs 4 vs 4),"
            " so every such row reads 'inconclusive (cannot decide)' and the per-seed values are the evidence."
            " Only the runs finished so far are shown."
        )
    return head + (
        " CAN show: how fast each method reaches high-scoring molecules early in training, and how similar its best"
        " molecules are, under a sparse reward with a lower threshold (about 1 % of random molecules clear 6, 0.1 %"
        " clear the paper's 7, too few for a top-10 in this budget). CANNOT show: the paper's numbers or its"
        f" long-run ranking ({100 * molecules / 1_000_000:.2g} % of its budget; GAFlowNet's exploration bonus is meant to pay off over 250k steps),"
        " and mode counts (score > 7.5) are small and noisy at this scale."
    )


def method_config(method: str, *, seed: int, molecules: int, n_logs: int = 20, reward: dict[str, Any] | None = None, **common: Any):
    """The config of one method (by its label: :data:`GAFN`, :data:`GFN`, :data:`PPO`, :data:`MARS`,
    :data:`RANDOM`, or a variant's: its base method's config (:data:`VARIANT_BASE`) with the
    variant's fields, :func:`variant_fields`) for a budget of ``molecules`` generated molecules.

    ``n_steps = ceil(molecules / molecules per step)`` (the method's ``batch_field`` in
    :data:`gafn_lib.registry.METHODS`: trajectories, or chains for MARS), a metrics row every
    ``n_steps // n_logs`` steps. ``reward`` holds reward fields (default: the paper's); ``common``
    any other field the configs share (``hidden``, ``n_rounds``, ``min_blocks``, ``max_blocks``,
    ``top_k``, ``device``...).
    """
    if not isinstance(molecules, int) or molecules < 1:
        raise ValueError(f"molecules must be an integer >= 1, got {molecules!r}")
    if not isinstance(n_logs, int) or n_logs < 1:
        raise ValueError(f"n_logs must be an integer >= 1, got {n_logs!r}")
    reward = {**PAPER_REWARD, **(reward or {})}
    unknown = set(reward) - set(REWARD_FIELDS)
    if unknown:
        raise ValueError(f"reward has unknown fields {sorted(unknown)}; allowed: {REWARD_FIELDS}")
    spec = method_by_label(VARIANT_BASE.get(method, method), "molecules")
    fields = {**reward, **variant_fields(method), **common, "seed": seed}
    per_step = fields.get(spec.batch_field, getattr(spec.config_class(), spec.batch_field))
    n_steps = max(1, math.ceil(molecules / per_step))
    return registry_method_config(spec.name, "molecules", **fields, n_steps=n_steps, log_every=max(1, n_steps // n_logs))


def molecule_runs(
    seeds: Sequence[int], molecules: int, methods: Sequence[str] = MOL_METHODS, n_logs: int = 20,
    reward: dict[str, Any] | None = None, method_fields: Mapping[str, Mapping[str, Any]] | None = None, **common: Any,
) -> list[tuple[str, Any]]:
    """Every method × seed as ``(label, config)`` pairs at the same molecule budget, method-major.

    A variant's label (:data:`VARIANT_BASE`) gets its base method's config with the variant's fields
    (:func:`variant_fields`). ``method_fields`` maps a label to fields only that method's configs get
    (e.g. :func:`release_method_fields`), over the variant's; ``common`` fields go to every config
    and override them (tests shrink ``hidden`` and ``n_rounds`` this way)."""
    method_fields = method_fields or {}
    for name, labels in (("methods", methods), ("method_fields", method_fields)):
        unknown = set(labels) - set(KNOWN_METHODS)
        if unknown:
            raise ValueError(f"{name} has unknown labels {sorted(unknown)}; allowed: {KNOWN_METHODS}")
    return [(m, method_config(m, seed=s, molecules=molecules, n_logs=n_logs, reward=reward, **{**method_fields.get(m, {}), **common}))
            for m in methods for s in seeds]


# ------------------------------------------------------------------------------ profiles
def notebook_settings(profile: str, seeds: Sequence[int] | None = None, n_steps: int | None = None) -> dict[str, Any]:
    """Notebook 06's run settings for ``profile`` (its ``seeds`` / ``n_steps`` parameters override):
    ``methods`` (labels, in table order: the paper's five, and in the long and paper profiles
    :data:`RELEASE_PROFILE_METHODS`), ``seeds``, ``n_steps`` (GFlowNet steps), ``molecules`` (4 per GFlowNet step: every method gets the
    same budget), ``reward``, ``network`` (extra fields of every config), ``method_fields`` (extra
    fields per method: the release preset for both GFlowNets in the long and paper profiles,
    :func:`release_method_fields`), ``n_logs`` (metric rows per run) and ``checkpoint_every``
    (steps between checkpoints; ``None``: runs take minutes). The notebook, the command line and the
    pipeline's prefetch (:mod:`gafn_lib.repro.prefetch`) all read them, so they train the same runs."""
    from gafn_lib.repro.profiles import profile_value

    if n_steps is not None and (not isinstance(n_steps, int) or n_steps < 1):
        raise ValueError(f"n_steps must be an integer >= 1, got {n_steps!r}")
    seeds = list(seeds or profile_value(profile, quick=[0, 1, 2, 3], paper=list(PAPER_SEEDS), long=list(LONG_SEEDS), smoke=[0]))
    n_steps = n_steps or profile_value(profile, quick=1_500, paper=PAPER_STEPS, long=LONG_STEPS, smoke=4)
    return {
        "methods": profile_value(profile, quick=MOL_METHODS, paper=RELEASE_PROFILE_METHODS, long=RELEASE_PROFILE_METHODS, smoke=MOL_METHODS),
        "seeds": seeds,
        "n_steps": n_steps,
        "molecules": 4 * n_steps,
        "reward": profile_value(profile, quick=REDUCED_REWARD, paper=PAPER_REWARD, long=PAPER_REWARD, smoke=REDUCED_REWARD),
        "network": profile_value(profile, quick={}, paper={}, long={}, smoke=dict(hidden=16, n_rounds=1, max_blocks=4)),
        "method_fields": profile_value(profile, quick={}, paper=release_method_fields(), long=release_method_fields(), smoke={}),
        "n_logs": profile_value(profile, quick=20, paper=PAPER_LOGS, long=LONG_LOGS, smoke=2),
        "checkpoint_every": profile_value(profile, quick=None, paper=PAPER_CHECKPOINT_EVERY, long=LONG_CHECKPOINT_EVERY, smoke=None),
    }


def notebook_runs(profile: str, seeds: Sequence[int] | None = None, n_steps: int | None = None, **common: Any) -> list[tuple[str, Any]]:
    """Notebook 06's ``(label, config)`` runs for ``profile``: every method × seed, method-major
    (:func:`notebook_settings`); ``common`` overrides fields of every config (tests: a tiny network)."""
    s = notebook_settings(profile, seeds, n_steps)
    return molecule_runs(s["seeds"], s["molecules"], s["methods"], reward=s["reward"], n_logs=s["n_logs"],
                         method_fields=s["method_fields"], **{**s["network"], **common})


def sweep_runs(profile: str, methods: Sequence[str] | None = None, seeds: Sequence[int] | None = None,
               n_steps: int | None = None, **common: Any) -> list[tuple[str, Any]]:
    """The runs of :func:`notebook_runs` for ``methods`` (default: every method of the profile),
    seed-major (every method of the first seed first: a sweep cut short has whole seeds), as
    ``python -m gafn_lib.repro.mol_experiments`` trains them."""
    allowed = notebook_settings(profile)["methods"]
    methods = allowed if methods is None else methods
    unknown = set(methods) - set(allowed)
    if unknown:
        raise ValueError(f"methods has unknown labels {sorted(unknown)} for the {profile} profile; allowed: {allowed}")
    seeds = list(seeds) if seeds is not None else notebook_settings(profile)["seeds"]
    return [run for s in seeds for run in notebook_runs(profile, [s], n_steps, **common) if run[0] in methods]


def release_method_fields() -> dict[str, dict[str, Any]]:
    """Label → the fields that put a method in the public release's configuration: GAFlowNet gets
    every field of ``MOL_PRESETS["release"]`` (joint augmentation, its default), GFlowNet the same
    without the intrinsic-only ones (:func:`release_fields`), :data:`GFN_RELEASE_NO_C` the GFlowNet's
    with ``log_reg_c = 0`` (:func:`variant_fields`); PPO, MARS and random search have no release
    configuration and keep their defaults."""
    return {GAFN: release_fields("joint"), GFN: release_fields("none"), GFN_RELEASE_NO_C: variant_fields(GFN_RELEASE_NO_C)}


#: The ``long`` profile: the paper's reward, 62 500 GFlowNet steps (250 000 molecules, 25 % of the
#: paper's 1 000 000; every method gets the same molecule budget), 3 seeds, 100 metric rows per run
#: (a window of 2 500 molecules per row), both GFlowNets in the release's configuration.
LONG_STEPS = 62_500
LONG_SEEDS = (0, 1, 2)
LONG_LOGS = 100
#: Checkpoint period (steps) of the long runs: a killed sweep resumes from the last one. Checkpoints
#: are written at logged steps, so a GAFlowNet run (release configuration, ~0.16 CPU s per step)
#: saves every 2 500 steps, about every 7 minutes.
LONG_CHECKPOINT_EVERY = 2_000
#: The ``paper`` profile: the paper's 250 000 GFlowNet steps (1 000 000 molecules), 3 seeds, 100
#: metric rows, both GFlowNets in the release's configuration; checkpoints as in the long profile.
PAPER_STEPS = 250_000
PAPER_SEEDS = (0, 1, 2)
PAPER_LOGS = 100
PAPER_CHECKPOINT_EVERY = LONG_CHECKPOINT_EVERY


def long_runs(methods: Sequence[str] | None = None, seeds: Sequence[int] = LONG_SEEDS) -> list[tuple[str, Any]]:
    """The long profile's runs (default: :data:`RELEASE_PROFILE_METHODS`), seed-major (every method
    of seed 0 first), as notebook 06 builds them."""
    return sweep_runs("long", methods, seeds)


def paper_runs(methods: Sequence[str] | None = None, seeds: Sequence[int] = PAPER_SEEDS) -> list[tuple[str, Any]]:
    """The paper profile's runs, seed-major, as notebook 06 builds them (meant for a cluster)."""
    return sweep_runs("paper", methods, seeds)


# ------------------------------------------------------------------------------ the decisive run
#: The fields of the release preset that make up its network.
NETWORK_FIELDS = ("network", "hidden", "n_rounds")
#: The decisive run (issue 23): does the release's configuration make a plain GFlowNet beat random
#: search on the paper's reward, where our default does not? 2 seeds × 15,000 GFlowNet steps
#: (60,000 molecules) of random search, the default GFlowNet, the release's loss on our network and
#: the full release GFlowNet (in that order: cheapest first), then the release GAFlowNet (added once
#: the release GFlowNet was seen to collapse onto the shortest molecules), the release GFlowNet and
#: GAFlowNet without ``log_reg_c`` (added once the collapse probe named it), a metric row (hit rate, mean
#: score, ... of the window since the last row) every 500 steps (2,000 molecules).
DECISIVE_STEPS = 15_000
DECISIVE_SEEDS = (0, 1)
DECISIVE_LOGS = 30
DECISIVE_METHODS = (RANDOM, GFN, GFN_RELEASE_LOSS, GFN_RELEASE, GAFN_RELEASE, GFN_RELEASE_NO_C, GAFN_RELEASE_NO_C)
#: Checkpoint period (steps) of the decisive runs (a release-configuration step costs ~0.3 s).
DECISIVE_CHECKPOINT_EVERY = 500


def release_fields(augment: str) -> dict[str, Any]:
    """The release preset's fields (:data:`gafn_lib.molecules.config.MOL_PRESETS`) for a GFlowNet with
    ``augment``; without augmentation the intrinsic-only fields (``rnd_features``, ``terminal``) are
    left at their defaults, so the config names only what acts."""
    from gafn_lib.molecules.config import MOL_PRESETS

    fields = dict(MOL_PRESETS["release"])
    if augment == "none":
        for name in ("rnd_features", "terminal"):
            fields.pop(name)
    return fields


def decisive_runs(
    seeds: Sequence[int] = DECISIVE_SEEDS, n_steps: int = DECISIVE_STEPS, n_logs: int = DECISIVE_LOGS,
    methods: Sequence[str] = DECISIVE_METHODS, **common: Any,
) -> list[tuple[str, Any]]:
    """The decisive run's ``(label, config)`` pairs, method-major in the order of ``methods`` (the
    cheap runs finish first), seeds within: :data:`RANDOM`, :data:`GFN` (plain GFlowNet, our
    defaults), :data:`GFN_RELEASE_LOSS` (plain GFlowNet, the release preset without its network) and
    :data:`GFN_RELEASE` (plain GFlowNet, the release preset) and :data:`GAFN_RELEASE` (GAFlowNet, the
    release preset), :data:`GFN_RELEASE_NO_C` and :data:`GAFN_RELEASE_NO_C` (the release GFlowNet
    and GAFlowNet with ``log_reg_c = 0``), each for ``4 · n_steps`` molecules on
    the paper's reward. ``common``: fields every config shares (tests shrink ``hidden``,
    ``n_rounds``, ``max_blocks``)."""
    unknown = set(methods) - set(DECISIVE_METHODS)
    if unknown:
        raise ValueError(f"methods has unknown labels {sorted(unknown)}; allowed: {DECISIVE_METHODS}")
    return [(label, method_config(label, seed=seed, molecules=4 * n_steps, n_logs=n_logs, reward=PAPER_REWARD, **common))
            for label in methods for seed in seeds]


def variant_fields(label: str) -> dict[str, Any]:
    """The fields a variant of :data:`VARIANT_BASE` sets on its base method's config ({} for the
    paper's five methods): :data:`GFN_RELEASE` and :data:`GAFN_RELEASE` the release preset
    (:func:`release_fields`), :data:`GFN_RELEASE_LOSS` the preset without its network
    (:data:`NETWORK_FIELDS`), :data:`GFN_RELEASE_NO_C` and :data:`GAFN_RELEASE_NO_C` the preset
    with ``log_reg_c = 0``."""
    if label not in KNOWN_METHODS:
        raise ValueError(f"label must be one of {KNOWN_METHODS}, got {label!r}")
    if label not in VARIANT_BASE:
        return {}
    fields = release_fields("joint" if VARIANT_BASE[label] == GAFN else "none")
    if label == GFN_RELEASE_LOSS:
        return {k: v for k, v in fields.items() if k not in NETWORK_FIELDS}
    if label in (GFN_RELEASE_NO_C, GAFN_RELEASE_NO_C):
        return {**fields, "log_reg_c": 0.0}
    return fields
