"""GFlowNet objectives, one equation each, and the one dispatch by name (:func:`objective_loss`).

Augmentation is applied beforehand by :func:`gafn_lib.core.augment.augment`, the same way for every
objective: it replaces ``log R`` by ``log R̃`` and sets the leak ``log ℓ``, which the equations below
read (``P̃_B = P_B + ℓ/F(s')``; ``R̃ = R`` and ``ℓ = 0`` without augmentation). The forms under each
augmentation are derived in ``docs/method.md``.
"""

from __future__ import annotations

import torch

from gafn_lib.core.objectives.db import db_loss
from gafn_lib.core.objectives.fm import fm_loss
from gafn_lib.core.objectives.subtb import subtb_loss
from gafn_lib.core.objectives.tb import tb_loss, tb_residuals
from gafn_lib.core.terms import FlowMatchingTerms, TrajectoryTerms
from gafn_lib.core.validation import check_choice

#: The objectives, by name: the one vocabulary every config and command line validates against.
OBJECTIVES = ("tb", "db", "subtb", "fm")


def check_objective(name: object, parameter: str = "objective") -> None:
    """Raise ``ValueError`` naming ``parameter`` and the allowed values unless ``name`` is in
    :data:`OBJECTIVES`."""
    check_choice(parameter, name, OBJECTIVES)


def objective_loss(
    name: str,
    terms: TrajectoryTerms | FlowMatchingTerms,
    log_z: torch.Tensor | None = None,
    *,
    subtb_lambda: float = 0.9,
    log_reg_c: float = 0.0,
    leaf_coef: float | None = None,
) -> torch.Tensor:
    """The loss of objective ``name`` on (already augmented) ``terms``: the one dispatch by name.

    With ``τ = (s_0 → … → s_n = x → ⊤)``, ``φ(s) = log F(s)``, ``F(s_0) := Z``:

    - ``"tb"``, trajectory balance (Malkin et al. 2022; edge-augmented TB, Pan et al. 2023 §4.2),
      mean over trajectories of
      ``(log Z + Σ_t log P_F(s_{t+1}|s_t) + log P_F(stop|x) − log R̃(x) − Σ_t log P̃_B(s_t|s_{t+1}))²``
      (:func:`~gafn_lib.core.objectives.tb.tb_loss`);
    - ``"db"``, detailed balance (Bengio et al. 2023, "GFlowNet Foundations"), mean over every move
      and stop of ``(φ(s) + log P_F(s'|s) − φ(s') − log P̃_B(s|s'))²`` and
      ``(φ(x) + log P_F(stop|x) − log R̃(x))²`` (:func:`~gafn_lib.core.objectives.db.db_loss`);
    - ``"subtb"``, SubTB(λ) (Madan et al. 2023) over the chain ``s_0 … s_n ⊤`` with ``φ_0 = log Z``
      and ``φ_{n+1} = log R̃(x)``: per trajectory ``Σ_{i<j} λ^{j−i} δ_ij² / Σ_{i<j} λ^{j−i}``,
      ``δ_ij = φ_i − φ_j + Σ_{k=i}^{j−1} (log P_F − log P̃_B)_k``, averaged over the batch
      (:func:`~gafn_lib.core.objectives.subtb.subtb_loss`; ``λ = subtb_lambda``);
    - ``"fm"``, flow matching (Bengio et al. 2021; augmented FM, Pan et al. 2023), mean over every
      non-initial visited state ``s'`` and every stop edge of
      ``(log Σ_{p ∈ Par(s')} F(p → s') − log(Σ_a F(s' → a) + ℓ(s') + 1[s' forced terminal] R̃(s')))²`` and
      ``(log F(x → ⊤) − log R̃(x))²`` (:func:`~gafn_lib.core.objectives.fm.fm_loss`; ``log_reg_c``
      and ``leaf_coef`` are the public release's options, documented there).

    Args:
        name: one of :data:`OBJECTIVES`.
        terms: :class:`~gafn_lib.core.terms.FlowMatchingTerms` for ``"fm"``,
            :class:`~gafn_lib.core.terms.TrajectoryTerms` otherwise (after augmentation).
        log_z: ``log Z`` (a scalar) for ``"tb"``,
            ``"db"`` and ``"subtb"``; must be ``None`` for ``"fm"`` (``Z = Σ_a F(s_0 → a)``).
        subtb_lambda: λ of SubTB(λ) (read by ``"subtb"`` only).
        log_reg_c, leaf_coef: flow-matching options (``"fm"`` only; their defaults elsewhere).

    Raises:
        ValueError: an unknown ``name`` (naming the allowed values), terms of the wrong kind, a
            missing or superfluous ``log_z``, or a flow-matching option with another objective.
    """
    check_objective(name)
    if name == "fm":
        if not isinstance(terms, FlowMatchingTerms):
            raise ValueError(f"objective 'fm' needs FlowMatchingTerms, got {type(terms).__name__}")
        if log_z is not None:
            raise ValueError("objective 'fm' has no log Z (Z = Σ_a F(s_0 → a)): pass log_z=None")
        return fm_loss(terms, log_reg_c=log_reg_c, leaf_coef=leaf_coef)
    if not isinstance(terms, TrajectoryTerms):
        raise ValueError(f"objective {name!r} needs TrajectoryTerms, got {type(terms).__name__}")
    if log_z is None:
        raise ValueError(f"objective {name!r} needs log_z")
    for option, value, off in (("log_reg_c", log_reg_c, 0.0), ("leaf_coef", leaf_coef, None)):
        if value != off:
            raise ValueError(f"{option}={value!r} is a flow-matching option; objective={name!r} needs {option}={off!r}")
    if name == "tb":
        return tb_loss(terms, log_z)
    if name == "db":
        return db_loss(terms, log_z)
    return subtb_loss(terms, log_z, subtb_lambda)


__all__ = ["OBJECTIVES", "check_objective", "db_loss", "fm_loss", "objective_loss", "subtb_loss", "tb_loss", "tb_residuals"]
