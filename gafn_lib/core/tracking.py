"""Metric tracking shared by every method on the hypergrid (GFlowNets and baselines).

Keeps the cumulative visit histogram of terminal states and turns it, plus (when the method has
one) the exact terminal distribution of its current policy, into one row of metrics.
"""

from __future__ import annotations

import math

import torch

from gafn_lib.envs.hypergrid import Hypergrid
from gafn_lib.core.metrics import VisitHistogram, exact_terminal_distribution, l1_mean, l1_sum, modes_covered, modes_found


class GridMetricsTracker:
    """Row of metrics for a hypergrid run.

    Columns: ``trajectories`` (terminal states visited so far), ``l1_mean_visited`` /
    ``l1_sum_visited`` (paper: empirical distribution of ALL terminal states visited since step 0),
    ``modes_found`` (goals ever visited), ``n_modes``, and — given the policy's forward
    probabilities — ``l1_mean_exact`` / ``l1_sum_exact`` (exact DP distribution) and
    ``modes_covered`` (goals with exact probability ≥ ½ of their target).
    """

    def __init__(self, env: Hypergrid):
        self.env = env
        self.histogram = VisitHistogram(env.n_states, device=env.device)
        self.p_true = env.true_distribution().to(env.device)
        self.n_modes = env.n_modes

    def record_terminals(self, terminal_states: torch.Tensor) -> None:
        self.histogram.update(self.env.index(terminal_states))

    def row(self, forward_probs: torch.Tensor | None = None) -> dict:
        p_visit = self.histogram.distribution()
        row = {
            "trajectories": self.histogram.total,
            "l1_mean_visited": l1_mean(p_visit, self.p_true) if self.histogram.total else math.nan,
            "l1_sum_visited": l1_sum(p_visit, self.p_true) if self.histogram.total else math.nan,
            "modes_found": modes_found(self.env, self.histogram),
            "n_modes": self.n_modes,
        }
        if forward_probs is not None:
            p_exact = exact_terminal_distribution(self.env, forward_probs)
            row["l1_mean_exact"] = l1_mean(p_exact, self.p_true)
            row["l1_sum_exact"] = l1_sum(p_exact, self.p_true)
            row["modes_covered"] = modes_covered(self.env, p_exact, self.p_true)
        else:
            row.update(l1_mean_exact=math.nan, l1_sum_exact=math.nan, modes_covered=math.nan)
        return row

    def state_dict(self) -> dict:
        return self.histogram.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.histogram.load_state_dict(state)
