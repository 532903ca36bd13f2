"""Metric tracking shared by every method (GFlowNets and baselines) on any environment.

:class:`MetricsTracker` (enumerable environments) keeps the cumulative visit histogram of terminal
states and turns it, plus (when the method has one) the exact terminal distribution of its current
policy, into one row of metrics. :class:`SampledMetricsTracker` (environments too large to list)
keeps only what needs no enumeration. :func:`make_tracker` picks one.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from gafn_lib.core.env import is_enumerable
from gafn_lib.core.exact import exact_terminal_distribution, log_partition, state_graph, target_distribution
from gafn_lib.core.metrics import VisitHistogram, l1_mean, l1_sum, modes_covered, modes_found


def mode_indices(env) -> torch.Tensor:
    """The modes of ``env``'s reward: ``env.mode_indices()`` where declared, else the reachable
    terminal states of maximal reward."""
    declared = getattr(env, "mode_indices", None)
    if callable(declared):
        return declared()
    p_true = target_distribution(env)
    return (p_true >= p_true.max() * (1 - 1e-9)).nonzero(as_tuple=True)[0]


class MetricsTracker:
    """Row of metrics for a run on an enumerable environment.

    Columns: ``trajectories`` (terminal states visited so far), ``l1_mean_visited`` /
    ``l1_sum_visited`` (paper: empirical distribution of ALL terminal states visited since step 0),
    ``modes_found`` (modes ever visited), ``n_modes``, and — given the policy's forward
    probabilities — ``l1_mean_exact`` / ``l1_sum_exact`` (exact DP distribution) and
    ``modes_covered`` (modes with exact probability ≥ ½ of their target). ``log_z_true`` is
    ``log Σ_x R(x)``.
    """

    def __init__(self, env):
        self.env = env
        state_graph(env)  # lists the DAG once (refuses environments too large to list)
        self.histogram = VisitHistogram(env.n_states, device=env.device)
        self.p_true = target_distribution(env).to(env.device)
        self.log_z_true = log_partition(env)
        self.mode_index = mode_indices(env).to(env.device)
        self.n_modes = int(self.mode_index.numel())

    def record_terminals(self, terminal_states: torch.Tensor) -> None:
        self.histogram.update(self.env.index(terminal_states))

    def row(self, forward_probs: torch.Tensor | None = None) -> dict:
        p_visit = self.histogram.distribution()
        row = {
            "trajectories": self.histogram.total,
            "l1_mean_visited": l1_mean(p_visit, self.p_true) if self.histogram.total else math.nan,
            "l1_sum_visited": l1_sum(p_visit, self.p_true) if self.histogram.total else math.nan,
            "modes_found": modes_found(self.mode_index, self.histogram),
            "n_modes": self.n_modes,
        }
        if forward_probs is not None:
            p_exact = exact_terminal_distribution(self.env, forward_probs)
            row["l1_mean_exact"] = l1_mean(p_exact, self.p_true)
            row["l1_sum_exact"] = l1_sum(p_exact, self.p_true)
            row["modes_covered"] = modes_covered(self.mode_index, p_exact, self.p_true)
        else:
            row.update(l1_mean_exact=math.nan, l1_sum_exact=math.nan, modes_covered=math.nan)
        return row

    def artifacts(self, forward_probs: torch.Tensor) -> dict[str, np.ndarray]:
        """The exact terminal distribution, the visit counts and the target, shaped by the
        environment's ``state_layout`` (e.g. ``(H,)*ndim`` on the hypergrid; flat otherwise)."""
        shape = tuple(getattr(self.env, "state_layout", (self.env.n_states,)))
        p_exact = exact_terminal_distribution(self.env, forward_probs)
        return {
            "p_exact": p_exact.cpu().numpy().reshape(shape),
            "visit_counts": self.histogram.counts.cpu().numpy().reshape(shape),
            "p_true": self.p_true.cpu().numpy().reshape(shape),
        }

    def state_dict(self) -> dict:
        return self.histogram.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.histogram.load_state_dict(state)


class SampledMetricsTracker:
    """Metrics without enumeration: the number of terminal states seen (exact columns are NaN)."""

    def __init__(self, env):
        self.env = env
        self.trajectories = 0
        self.log_z_true = math.nan

    def record_terminals(self, terminal_states: torch.Tensor) -> None:
        self.trajectories += int(terminal_states.shape[0])

    def row(self, forward_probs: torch.Tensor | None = None) -> dict:
        return {"trajectories": self.trajectories}

    def state_dict(self) -> dict:
        return {"trajectories": torch.tensor(self.trajectories)}

    def load_state_dict(self, state: dict) -> None:
        self.trajectories = int(state["trajectories"])


def make_tracker(env):
    """:class:`MetricsTracker` for an enumerable environment, else :class:`SampledMetricsTracker`."""
    return MetricsTracker(env) if is_enumerable(env) else SampledMetricsTracker(env)
