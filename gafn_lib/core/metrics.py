"""Evaluation metrics: pure functions shared by training, notebooks and tests.

Two L1 conventions are in use in the literature; the names say which is which:

- :func:`l1_mean` — the paper's: ``(1/N) Σ_x |p̂(x) − p(x)|`` over all ``N = H^ndim`` cells.
  It shrinks like ``1/N`` with the grid size.
- :func:`l1_sum` — ``Σ_x |p̂(x) − p(x)| = 2·TV(p̂, p)`` (torchgfn's convention).
"""

from __future__ import annotations

import torch



def _check_pair(p_hat: torch.Tensor, p: torch.Tensor) -> None:
    if p_hat.shape != p.shape:
        raise ValueError(f"distributions must have the same shape, got {tuple(p_hat.shape)} and {tuple(p.shape)}")


def l1_mean(p_hat: torch.Tensor, p: torch.Tensor) -> float:
    """The paper's L1 error: ``mean_x |p̂(x) − p(x)|`` over all cells."""
    _check_pair(p_hat, p)
    return float((p_hat.double() - p.double()).abs().mean())


def l1_sum(p_hat: torch.Tensor, p: torch.Tensor) -> float:
    """``Σ_x |p̂(x) − p(x)|``, i.e. twice the total-variation distance."""
    _check_pair(p_hat, p)
    return float((p_hat.double() - p.double()).abs().sum())


def kl_divergence(p: torch.Tensor, q: torch.Tensor, eps: float = 1e-12) -> float:
    """``KL(p ‖ q) = Σ_x p(x) log(p(x) / q(x))`` (terms with ``p(x) = 0`` contribute 0; ``q`` floored at eps)."""
    _check_pair(p, q)
    p, q = p.double(), q.double()
    support = p > 0
    return float((p[support] * (p[support].log() - q[support].clamp_min(eps).log())).sum())


def js_divergence(p: torch.Tensor, q: torch.Tensor) -> float:
    """Jensen–Shannon divergence ``½ KL(p‖m) + ½ KL(q‖m)``, ``m = (p+q)/2`` (nats, in [0, log 2])."""
    _check_pair(p, q)
    m = 0.5 * (p.double() + q.double())
    return 0.5 * kl_divergence(p, m) + 0.5 * kl_divergence(q, m)


class VisitHistogram:
    """Cumulative histogram of visited terminal states (the paper computes its L1 on all terminal
    states visited since step 0). :meth:`update` costs ``O(batch)``.
    """

    def __init__(self, n_states: int, device: str | torch.device = "cpu"):
        if n_states < 1:
            raise ValueError(f"n_states must be >= 1, got {n_states}")
        self.counts = torch.zeros(n_states, dtype=torch.long, device=device)

    def update(self, state_index: torch.Tensor) -> None:
        """Add one visit for each canonical index in ``state_index`` (``(B,)``, repeats allowed)."""
        self.counts.index_add_(0, state_index.to(self.counts.device), torch.ones_like(state_index, device=self.counts.device))

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def distribution(self) -> torch.Tensor:
        """Empirical distribution ``p̂`` (float64); all zeros before the first update."""
        total = self.counts.sum()
        if total == 0:
            return torch.zeros_like(self.counts, dtype=torch.float64)
        return self.counts.double() / total

    def visited(self, state_index: torch.Tensor) -> torch.Tensor:
        """Bool mask: which of ``state_index`` have been visited at least once."""
        return self.counts[state_index.to(self.counts.device)] > 0

    def state_dict(self) -> dict:
        return {"counts": self.counts.clone()}

    def load_state_dict(self, state: dict) -> None:
        self.counts.copy_(state["counts"])


def modes_found(mode_index: torch.Tensor, histogram: VisitHistogram) -> int:
    """Number of modes (state indices ``mode_index``) visited at least once (the paper's "modes found")."""
    return int(histogram.visited(mode_index).sum())


def modes_covered(mode_index: torch.Tensor, p_exact: torch.Tensor, p_true: torch.Tensor, fraction: float = 0.5) -> int:
    """Number of modes ``x`` with exact sampling probability ``P_T(x) ≥ fraction · p(x)``.

    "Modes found" never decreases, so it cannot tell a policy that touched a goal once and then
    abandoned it from one that still samples it; "covered" looks at the current policy.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    idx = mode_index.to(p_exact.device)
    return int((p_exact[idx] >= fraction * p_true.to(p_exact.device)[idx]).sum())
