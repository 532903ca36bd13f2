"""Molecule run configs: the fields every molecule config shares (:class:`MolFields`: GFlowNets,
PPO, MARS, random search) and the molecule (GA)FlowNet's config (:class:`MolTrainConfig`), with their
checks and vocabularies."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping, Sequence

import torch

from gafn_lib.core.augment import AUGMENT_MODES
from gafn_lib.core.intrinsic import check_intrinsic
from gafn_lib.core.objectives import check_objective
from gafn_lib.core.validation import check_choice, check_counts, check_positive, check_threads, check_unit_interval
from gafn_lib.envs.mol_reward import MOL_REWARDS, MolReward
from gafn_lib.registry import added_field

#: What RND reads on molecules (see :attr:`MolTrainConfig.rnd_features`).
RND_FEATURES = ("fixed", "policy", "graph")
#: The joint augmentation's terminal term (see :attr:`MolTrainConfig.terminal`).
TERMINAL_BONUS = ("paper", "release")
#: Network and loss dtypes of the molecule GFlowNet, by name.
MOL_DTYPES = {"float32": torch.float32, "float64": torch.float64}
#: The block-graph networks by name (see :attr:`MolTrainConfig.network`).
MOL_NETWORKS = ("compact", "release")


@dataclass(frozen=True)
class MolFields:
    """Molecule size, reward transform and network shared by the molecule configs.

    Attributes:
        min_blocks, max_blocks: molecule size in blocks (2, 8; paper).
        reward: ``"sparse"`` (paper: ``(s/8)^10`` if ``s > 7`` else 1e-9) or ``"dense"``.
        reward_threshold, reward_normaliser, reward_exponent, reward_floor: the transform of the
            proxy score ``s`` (see :class:`gafn_lib.envs.mol_reward.MolReward`).
        hidden, n_rounds: block-graph network width (128) and message-passing rounds (3).
        top_k: the k of the top-k metrics (10).
    """

    min_blocks: int = 2
    max_blocks: int = 8
    reward: str = "sparse"
    reward_threshold: float = 7.0
    reward_normaliser: float = 8.0
    reward_exponent: float = 10.0
    reward_floor: float = 1e-9
    hidden: int = 128
    n_rounds: int = 3
    top_k: int = 10

    def reward_fn(self) -> MolReward:
        return MolReward(self.reward, self.reward_threshold, self.reward_normaliser, self.reward_exponent, self.reward_floor)

    def check_mol_fields(self) -> None:
        """Validate the shared fields (and ``threads``); each error names the field."""
        check_choice("reward", self.reward, MOL_REWARDS)
        check_counts(self, ("min_blocks", "max_blocks", "hidden", "top_k"))
        if not isinstance(self.n_rounds, int) or isinstance(self.n_rounds, bool) or self.n_rounds < 0:
            raise ValueError(f"n_rounds must be an integer >= 0, got {self.n_rounds!r}")
        if self.max_blocks < self.min_blocks:
            raise ValueError(f"max_blocks ({self.max_blocks}) must be >= min_blocks ({self.min_blocks})")
        check_threads(getattr(self, "threads", None))
        try:
            self.reward_fn()
        except ValueError as err:  # name the config field, not MolReward's argument
            raise ValueError(f"reward_{err}") from None


def validate_mol_fields(config, int_fields: Sequence[str]) -> None:
    """Checks shared by the molecule baselines' configs (each error names the field): the
    :class:`MolFields`, ``log_every``, ``n_steps`` and ``int_fields`` (integers >= 1), ``lr`` > 0."""
    config.check_mol_fields()
    check_counts(config, ("log_every", "n_steps", *int_fields))
    check_positive("lr", config.lr)


@dataclass(frozen=True)
class MolTrainConfig(MolFields):
    """A (GA)FlowNet run on molecules. Defaults are the paper's molecule setting (§4).

    Attributes:
        objective: ``"fm"`` (paper), ``"tb"``, ``"db"`` or ``"subtb"``.
        augment: ``"joint"`` (GAFlowNet), ``"edge"``, ``"node"`` or ``"none"`` (plain GFlowNet).
        intrinsic: ``"rnd"`` or ``"none"``, the names ``intrinsic_names(supported_by="molecules")``
            of :mod:`gafn_lib.core.intrinsic` lists; ``None`` picks ``"rnd"`` unless ``augment == "none"``.
        eta: RND coefficient η in ``r = η·‖f̂ − f‖₂`` on graph embeddings (paper 0.1).
        rnd_features: which graph embedding RND reads: ``"fixed"`` (default), a frozen, randomly
            initialised copy of the block-graph network — stationary inputs, so the novelty of
            visited states decays as Theorem 1 needs; ``"policy"``, the policy's own (detached)
            embedding, which drifts as the policy trains and keeps the novelty from decaying; or
            ``"graph"``, the public release's RND: target and predictor are both block-graph networks
            on the raw state graph, the predictor trained end to end (:mod:`gafn_lib.molecules.graph_rnd`).
        terminal: the intrinsic term of a finished molecule ``x`` (joint augmentation only):
            ``"paper"`` (default) ``R̃(x) = R(x) + r(x)`` and ``r(x)`` also leaks at ``x`` (the paper's
            equation); ``"release"``: the stop transition's target is ``R(x) + r(s_0)``, the RND of the
            *empty* molecule (the release stores the stop state as ``None``), ``x``'s own novelty entering
            only as its out-flow leak; a forced-terminal ``x`` gets ``R(x) + r(x)`` once.
        log_reg_c: FM only: ``c`` inside both logs of every flow-matching term (release 2.5e-5; 0 = none).
        leaf_coef: FM only: balanced loss ``leaf_coef · mean(terminal terms) + mean(other terms)``
            (release 10; ``None`` = one mean over all terms). See :func:`gafn_lib.core.objectives.fm_loss`.
        early_stop_reg: probability that a trajectory stops at a length drawn uniformly from
            ``{min_blocks, …, max_blocks}`` (release 0.1, our default: notebook 06 gives the
            measurement; 0 = none), see :func:`gafn_lib.molecules.sampling.draw_early_stops`.
        dtype: ``"float32"`` (default) or ``"float64"`` (the release's ``floatX``; FM only) for the
            networks and the loss.
        network: the block-graph network of the policy and of RND's encoders: ``"compact"``
            (default, :class:`gafn_lib.molecules.policy.BlockGraphPolicy`: a message MLP, an update
            MLP and a LayerNorm per round) or ``"release"`` (the public release's: one NNConv with
            bond-embedding outer-product edge weights and one GRU shared over the rounds, mean pool,
            :mod:`gafn_lib.molecules.release_net`). Added after runs were stored: ``"compact"`` is
            left out of the run id (:func:`gafn_lib.registry.added_field`).
        epsilon: probability of a uniformly random valid action (paper 0.05).
        lr: Adam learning rate of the policy and RND predictor (paper 5e-4).
        lr_logz: learning rate of ``log Z`` (TB/DB/SubTB only).
        batch_size: trajectories per step (paper 4). n_steps: training steps (paper 250 000).
        min_blocks, max_blocks: molecule size in blocks (2, 8).
        reward: ``"sparse"`` (paper: ``(s/8)^10`` if ``s > 7`` else 1e-9) or ``"dense"``.
        reward_threshold, reward_normaliser, reward_exponent, reward_floor: see :class:`gafn_lib.envs.mol_reward.MolReward`.
        hidden, n_rounds: block-graph network width (128) and message-passing rounds (3).
        subtb_lambda: λ of SubTB(λ).
        log_every: metrics every this many steps (and at the last step). top_k: top-k for metrics.
        seed, device, threads: see :mod:`gafn_lib.core.runtime`.
    """

    objective: str = "fm"
    augment: str = "joint"
    intrinsic: str | None = None
    eta: float = 0.1
    rnd_features: str = "fixed"
    terminal: str = "paper"
    log_reg_c: float = 0.0
    leaf_coef: float | None = None
    early_stop_reg: float = 0.1
    dtype: str = "float32"
    network: str = added_field("compact")
    epsilon: float = 0.05
    lr: float = 5e-4
    lr_logz: float = 0.1
    batch_size: int = 4
    n_steps: int = 250_000
    subtb_lambda: float = 0.9
    log_every: int = 500
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None

    def __post_init__(self) -> None:
        check_objective(self.objective)
        check_choice("augment", self.augment, AUGMENT_MODES)
        check_choice("reward", self.reward, MOL_REWARDS)
        if self.intrinsic is None:
            object.__setattr__(self, "intrinsic", "none" if self.augment == "none" else "rnd")
        check_choice("rnd_features", self.rnd_features, RND_FEATURES)
        check_choice("terminal", self.terminal, TERMINAL_BONUS)
        check_choice("dtype", self.dtype, tuple(MOL_DTYPES))
        check_choice("network", self.network, MOL_NETWORKS)
        if self.terminal == "release" and self.augment not in ("joint", "none"):  # with "none" it has no effect
            raise ValueError(f"terminal='release' changes the joint augmentation's terminal term; it needs augment='joint' (or 'none'), got {self.augment!r}")
        if self.objective != "fm":
            for name, off in (("log_reg_c", 0.0), ("leaf_coef", None), ("dtype", "float32")):
                if getattr(self, name) != off:
                    raise ValueError(f"{name}={getattr(self, name)!r} is a flow-matching option; objective={self.objective!r} needs {name}={off!r}")
        check_positive("log_reg_c", self.log_reg_c, strict=False)
        if self.leaf_coef is not None:
            check_positive("leaf_coef", self.leaf_coef)
        check_unit_interval("early_stop_reg", self.early_stop_reg)
        check_intrinsic(self.intrinsic, supported_by="molecules")
        if self.augment != "none" and self.intrinsic == "none":
            raise ValueError(f"augment={self.augment!r} needs intrinsic='rnd' (or set augment='none')")
        if self.augment == "none" and self.intrinsic != "none":
            raise ValueError(f"intrinsic={self.intrinsic!r} has no effect with augment='none'")
        self.check_mol_fields()
        check_counts(self, ("batch_size", "n_steps", "log_every"))
        check_unit_interval("epsilon", self.epsilon)
        for name in ("lr", "lr_logz", "subtb_lambda"):
            check_positive(name, getattr(self, name))
        check_positive("eta", self.eta, strict=False)

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> "MolTrainConfig":
        """The named configuration ``name`` of :data:`MOL_PRESETS`, then ``overrides`` (any field).

        ``MolTrainConfig.preset("release")`` is the release's GAFlowNet,
        ``MolTrainConfig.preset("release", augment="none")`` its GFlowNet (the intrinsic-only fields
        are then inert). Raises ``ValueError`` naming ``preset`` for an unknown name."""
        check_choice("preset", name, tuple(MOL_PRESETS))
        return cls(**{**MOL_PRESETS[name], **overrides})


#: Named molecule configurations (field → value; every other field keeps its default), used by
#: :meth:`MolTrainConfig.preset` and ``python -m gafn_lib mols --preset``. None sets ``augment`` /
#: ``intrinsic``: the method (GAFlowNet, GFlowNet) is chosen separately.
#:
#: - ``"paper"``: the class defaults, our reading of the paper (§4) — FM, compact network 128 × 3
#:   rounds, frozen-encoder RND, the paper's terminal term, no ``log_reg_c``, one mean over FM terms.
#: - ``"release"``: the public release's configuration (``ling-pan/GAFN``, ``mols/gflownet.py``
#:   defaults; docs/method.md, molecules): FM, ``log_reg_c`` 2.5e-5, balanced loss with
#:   ``leaf_coef`` 10, block-graph RND, the release's terminal term, the release's network 256 wide
#:   with 10 rounds, ``early_stop_reg`` 0.1. ``dtype`` is float32 where the release used float64: on
#:   a fixed batch of this configuration float32 gives the float64 loss to within a relative 1e-5
#:   (``tests/test_mol_release_net.py::test_float32_loss_matches_float64``) at about half the cost.
MOL_PRESETS: Mapping[str, Mapping[str, Any]] = MappingProxyType({
    "paper": MappingProxyType({}),
    "release": MappingProxyType({
        "objective": "fm", "log_reg_c": 2.5e-5, "leaf_coef": 10.0, "rnd_features": "graph", "terminal": "release",
        "network": "release", "hidden": 256, "n_rounds": 10, "early_stop_reg": 0.1, "dtype": "float32",
    }),
})
