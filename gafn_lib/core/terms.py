"""The tensors a GFlowNet objective consumes, batch-first and padded.

A batch holds ``B`` trajectories ``τ_b = (s_0 → s_1 → … → s_n = x)`` with ``n = n_b`` *moves*
(padded to ``T = max_b n_b``) followed by the *stop* transition ``x → ⊤`` (which is implicit,
``log P_F(stop|x) = 0``, when the environment forces termination).

Index convention: move ``t`` (``0 ≤ t < n``) is ``s_t → s_{t+1}``; its child is ``s_{t+1}``;
``log_intrinsic[:, t] = log r(s_{t+1})`` (the release's convention ``r(s_t → s_{t+1}) := r(s_{t+1})``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

NEG_INF = float("-inf")


@dataclass(frozen=True, kw_only=True)
class AugmentableTerms:
    """The fields every objective's inputs share, which :func:`gafn_lib.core.augment.augment` rewrites.

    Attributes:
        log_reward: ``(B,)`` ``log R(x)`` (after :func:`gafn_lib.core.augment.augment`: ``log R̃``).
        mask: ``(B, T)`` bool, True on real moves.
        log_intrinsic: ``(B, T)`` ``log r(s_{t+1})``; ``-inf`` means no bonus (and on padding).
        log_intrinsic_terminal: ``(B,)`` ``log r(x)`` of the finished object.
        log_leak: ``(B, T)`` log of the augmented flow ``ℓ(s_t → s_{t+1})`` that leaves move ``t``
            through a pseudo-sink. Set by :func:`gafn_lib.core.augment.augment`; ``-inf`` = no leak.
    """

    log_reward: torch.Tensor
    mask: torch.Tensor
    log_intrinsic: torch.Tensor
    log_intrinsic_terminal: torch.Tensor
    log_leak: torch.Tensor | None = None

    @property
    def lengths(self) -> torch.Tensor:
        return self.mask.sum(dim=1)

    def replace(self, **changes):
        """A copy with ``changes`` (same class)."""
        return replace(self, **changes)


@dataclass(frozen=True, kw_only=True)
class TrajectoryTerms(AugmentableTerms):
    """Inputs of TB, DB and SubTB (shapes: ``B`` trajectories, ``T`` padded moves), keyword-only.

    Attributes:
        log_pf: ``(B, T)`` ``log P_F(s_{t+1}|s_t)``; 0 on padding.
        log_pb: ``(B, T)`` ``log P_B(s_t|s_{t+1})``; 0 on padding.
        log_flow: ``(B, T+1)`` ``log F(s_t)`` from the flow head; entry 0 is not used (objectives
            use ``log Z`` for ``F(s_0)``); padding ignored.
        log_pf_stop: ``(B,)`` ``log P_F(stop|x)``, 0 when termination was forced.
        log_reward, mask, log_intrinsic, log_intrinsic_terminal, log_leak: see :class:`AugmentableTerms`.
    """

    log_pf: torch.Tensor
    log_pb: torch.Tensor
    log_flow: torch.Tensor
    log_pf_stop: torch.Tensor


@dataclass(frozen=True, kw_only=True)
class FlowMatchingTerms(AugmentableTerms):
    """Inputs of flow matching (FM), per trajectory step, keyword-only.

    Row ``(b, t)`` describes the non-initial state ``s' = s_{t+1}`` of move ``t``.

    Attributes:
        log_inflow: ``(B, T, P)`` edge log-flows ``log F(p → s')`` from each parent ``p`` of
            ``s'`` (``-inf`` for padding / non-parents).
        log_outflow: ``(B, T, A)`` edge log-flows ``log F(s' → ·)`` out of ``s'``, the stop edge
            included; ``-inf`` for invalid actions (all ``-inf`` for a forced-terminal state).
        log_stop_flow: ``(B,)`` ``log F(x → ⊤)``; ignored when ``forced``.
        forced: ``(B,)`` bool, termination at ``x`` was forced (no stop edge; ``R̃(x)`` enters the
            out-flow of ``x`` directly).
        log_reward, mask, log_intrinsic, log_intrinsic_terminal, log_leak: see
            :class:`AugmentableTerms` (``log_leak[b, t]`` leaves state ``s_{t+1}``).
    """

    log_inflow: torch.Tensor
    log_outflow: torch.Tensor
    log_stop_flow: torch.Tensor
    forced: torch.Tensor
