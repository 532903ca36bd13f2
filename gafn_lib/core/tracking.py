"""Metric tracking shared by every method (GFlowNets and baselines) on any environment.

:class:`MetricsTracker` (enumerable environments) keeps the cumulative visit histogram of terminal
states and turns it, plus (when the method has one) the exact terminal distribution of its current
policy, into one row of metrics. :class:`SampledMetricsTracker` (environments too large to list)
keeps only what needs no enumeration. :func:`make_tracker` picks one.

:class:`MetricsTracker` also records when each mode (goal) was first visited, exactly: the
position of the sample in the run's stream of terminal states (and the training step), not the
logged row in which it first shows up (see its docstring for the columns). This is data only; the
statistics that read it live in :mod:`gafn_lib.repro`.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from gafn_lib.core.env import is_enumerable
from gafn_lib.core.exact import exact_terminal_distribution, log_partition, state_graph, target_distribution
from gafn_lib.core.metrics import VisitHistogram, l1_mean, l1_sum, modes_covered, modes_found

#: Environments with at most this many modes get one ``first_visit_mode_<j>`` column per mode in
#: every row (the 2-D sparse grid has 3 goals, the dense reward 4 at H = 16 and 36 at H = 32);
#: with more, the per-mode values are in :meth:`MetricsTracker.artifacts` only (rows stay small).
MAX_MODE_COLUMNS = 64
#: ``first_visit`` / ``first_visit_step`` of a mode not visited yet (in the tensors and arrays;
#: the rows write NaN).
NOT_VISITED = -1
#: The row columns of :class:`MetricsTracker` about first visits (besides the per-mode ones).
FIRST_VISIT_COLUMNS = ("first_visit_all_modes", "first_visit_all_modes_step")


def first_visit_mode_column(j: int) -> str:
    """The row column of mode ``j``'s first visit (``j`` indexes :func:`mode_indices`)."""
    return f"first_visit_mode_{j}"


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

    First visits (exact, not rounded to the logging period). The terminal states a run visits form
    one stream, in the order of :meth:`record_terminals` calls and, within a call, of the batch's
    rows; the *position* of a sample is its 1-based rank in that stream. Mode ``j`` (the ``j``-th
    entry of :func:`mode_indices`, i.e. of ``self.mode_index``) is first visited at the position of
    the first sample equal to it: the trajectories of earlier batches, plus its row index in its
    batch, plus 1. Columns:

    - ``first_visit_all_modes``: the position at which the last mode to be found was first visited,
      i.e. how many terminal states (trajectories; MCMC: chain samples) the run had visited when
      every mode had been visited at least once — the paper's x-axis unit; NaN while some mode has
      not been visited (then the run is censored at its current ``trajectories``);
    - ``first_visit_all_modes_step``: the training step (1-based, the row's ``step`` convention:
      the step whose batch held that sample) of the same event; NaN likewise;
    - ``first_visit_mode_<j>`` for ``j < n_modes``: mode ``j``'s first-visit position (NaN until
      visited); written only when ``n_modes ≤`` :data:`MAX_MODE_COLUMNS`.

    A step is one :meth:`record_terminals` call (every trainer records each member's batch once
    per training step). The values are set once and never change; they are part of
    :meth:`state_dict` (a resumed run logs the same values) and are computed from a member's own
    batch only (identical alone or in an ensemble). :meth:`artifacts` adds the per-mode arrays
    (``first_visit``, ``first_visit_step``, with :data:`NOT_VISITED` for modes never visited, and
    ``mode_index``), whatever the number of modes.
    """

    def __init__(self, env):
        self.env = env
        state_graph(env)  # lists the DAG once (refuses environments too large to list)
        self.histogram = VisitHistogram(env.n_states, device=env.device)
        self.p_true = target_distribution(env).to(env.device)
        self.log_z_true = log_partition(env)
        self.mode_index = mode_indices(env).to(env.device)
        self.n_modes = int(self.mode_index.numel())
        # state index -> slot of its (distinct) mode, -1 elsewhere; a mode listed twice shares a slot
        distinct, self._mode_of_slot = torch.unique(self.mode_index, return_inverse=True)
        self._n_slots = int(distinct.numel())
        self._slot = torch.full((env.n_states,), -1, dtype=torch.long, device=env.device)
        self._slot[distinct] = torch.arange(self._n_slots, device=env.device)
        self.first_visit = torch.full((self.n_modes,), NOT_VISITED, dtype=torch.long, device=env.device)
        self.first_visit_step = torch.full((self.n_modes,), NOT_VISITED, dtype=torch.long, device=env.device)
        self.trajectories = 0  # terminal states recorded so far (= histogram.total, without a sum)
        self.batches = 0  # record_terminals calls so far (= training steps)
        self._unvisited = self.n_modes

    def record_terminals(self, terminal_states: torch.Tensor) -> None:
        """Record one training step's batch of terminal states ``(B, ...)``, in row order."""
        index = self.env.index(terminal_states)
        self.histogram.update(index)
        before = self.trajectories
        self.trajectories += int(index.shape[0])
        self.batches += 1
        if self._unvisited:
            self._record_first_visits(index, before)

    def _record_first_visits(self, index: torch.Tensor, before: int) -> None:
        """Set the first visit of the modes that ``index`` (one batch, in order) holds for the
        first time: ``before + row + 1`` at the batch's first row holding each (vectorised). A
        mode's slot is cleared once it is visited, so a batch without a new mode costs one gather
        and one maximum."""
        if index.numel() == 0:
            return
        slot = self._slot.index_select(0, index)
        if int(slot.max()) < 0:  # no mode visited for the first time in this batch
            return
        rows = (slot >= 0).nonzero(as_tuple=True)[0]
        size = int(index.shape[0])
        first_row = torch.full((self._n_slots,), size, dtype=torch.long, device=index.device)
        first_row.scatter_reduce_(0, slot[rows], rows, reduce="amin")
        first_row = first_row[self._mode_of_slot]  # per mode (a repeated mode shares its slot's row)
        new = (self.first_visit == NOT_VISITED) & (first_row < size)
        self.first_visit = torch.where(new, before + first_row + 1, self.first_visit)
        self.first_visit_step = torch.where(new, torch.full_like(self.first_visit_step, self.batches), self.first_visit_step)
        self._clear_visited_slots()

    def _clear_visited_slots(self) -> None:
        """Point the visited modes' states at no slot, and count the modes still unvisited."""
        self._slot[self.mode_index[self.first_visit != NOT_VISITED]] = -1
        self._unvisited = int((self.first_visit == NOT_VISITED).sum())

    def first_visit_columns(self) -> dict:
        """The row's first-visit columns (see the class docstring): ints, NaN (``math.nan``) for
        what has not happened yet."""
        done = self.n_modes > 0 and self._unvisited == 0
        columns: dict = {
            "first_visit_all_modes": int(self.first_visit.max()) if done else math.nan,
            "first_visit_all_modes_step": int(self.first_visit_step.max()) if done else math.nan,
        }
        if self.n_modes <= MAX_MODE_COLUMNS:
            for j, position in enumerate(self.first_visit.tolist()):
                columns[first_visit_mode_column(j)] = position if position != NOT_VISITED else math.nan
        return columns

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
        row.update(self.first_visit_columns())
        return row

    def artifacts(self, forward_probs: torch.Tensor) -> dict[str, np.ndarray]:
        """The exact terminal distribution, the visit counts and the target, shaped by the
        environment's ``state_layout`` (e.g. ``(H,)*ndim`` on the hypergrid; flat otherwise); and
        per mode (``(n_modes,)``, in the order of ``mode_index``, the modes' state indices): the
        first-visit position ``first_visit`` and step ``first_visit_step`` (:data:`NOT_VISITED`
        for a mode never visited)."""
        shape = tuple(getattr(self.env, "state_layout", (self.env.n_states,)))
        p_exact = exact_terminal_distribution(self.env, forward_probs)
        return {
            "p_exact": p_exact.cpu().numpy().reshape(shape),
            "visit_counts": self.histogram.counts.cpu().numpy().reshape(shape),
            "p_true": self.p_true.cpu().numpy().reshape(shape),
            "mode_index": self.mode_index.cpu().numpy(),
            "first_visit": self.first_visit.cpu().numpy(),
            "first_visit_step": self.first_visit_step.cpu().numpy(),
        }

    def state_dict(self) -> dict:
        return {
            **self.histogram.state_dict(),
            "first_visit": self.first_visit.clone(),
            "first_visit_step": self.first_visit_step.clone(),
            "batches": self.batches,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`. A state saved before first visits were recorded (only
        ``counts``) is refused: the first visits of the modes it had already visited are unknown,
        so the run must start again (the runner then retrains it from step 0, with a warning)."""
        missing = [k for k in ("first_visit", "first_visit_step", "batches") if k not in state]
        if missing:
            raise ValueError(
                f"this metrics-tracker state has no {', '.join(missing)}: it was saved before the first visit of "
                "each mode was recorded, so those times are unknown; delete the checkpoint and train the run again"
            )
        if tuple(state["first_visit"].shape) != (self.n_modes,):
            raise ValueError(f"the state holds first visits of {tuple(state['first_visit'].shape)} modes, this environment has {self.n_modes}")
        self.histogram.load_state_dict(state)
        self.first_visit = state["first_visit"].to(self.first_visit.device, torch.long).clone()
        self.first_visit_step = state["first_visit_step"].to(self.first_visit_step.device, torch.long).clone()
        self.batches = int(state["batches"])
        self.trajectories = self.histogram.total
        self._clear_visited_slots()


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
