"""The GridWorld (hypergrid) environment of the paper, vectorised over a batch of states.

States are integer coordinates ``s ∈ {0, …, H−1}^ndim`` held as a ``LongTensor`` of shape
``(B, ndim)``. Every trajectory starts at the origin. Actions are integers ``0 … ndim``:
``a < ndim`` increments coordinate ``a``; ``a == ndim`` is *stop*.

Two termination rules:

- ``"edge"`` (the paper's release): an episode also ends as soon as any coordinate reaches
  ``H−1``; such a state is *forced terminal* (it has no actions). Consequently a state with two or
  more coordinates equal to ``H−1`` is unreachable, and a state with one coordinate at ``H−1`` has
  exactly one parent (the one that decrements that coordinate).
- ``"exit"`` (torchgfn's HyperGrid): the increment of a coordinate at ``H−1`` is masked; *stop* is
  allowed everywhere. Every cell is reachable and terminable.

The canonical index of a state is its mixed-radix number ``Σ_d s_d · H^(ndim−1−d)`` (row-major, so
``index`` agrees with ``numpy.ravel_multi_index`` on shape ``(H,)*ndim``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import math

import torch

from gafn_lib.core.env import Parents
from gafn_lib.envs.rewards import GridReward, make_grid_reward, reward_name

TERMINATION_RULES = ("edge", "exit")
#: Largest number of cells ``H**ndim`` we agree to enumerate (all-states tensors, exact DP).
MAX_ENUMERABLE_STATES = 2**22


@dataclass(frozen=True)
class HypergridConfig:
    """Configuration of a hypergrid.

    Attributes:
        ndim: number of dimensions (≥ 1). Paper: 2.
        height: cells per dimension H (≥ 3). Paper: 8, 16, 32, 64, 128.
        reward: ``"sparse"`` (paper), ``"dense"`` (Bengio et al. 2021), a name registered with
            :func:`gafn_lib.envs.rewards.register_grid_reward`, or a reward object: a callable
            ``states (B, ndim) -> R (B,)`` with ``R >= 0``, named by a ``name`` attribute or by
            being a frozen dataclass (so runs with it get their own run id), optionally with
            ``mode_states()``. Checked on every cell when the grid is built.
        termination: ``"edge"`` (paper) or ``"exit"`` (torchgfn).
        r0, r1, r2: the dense reward's constants (ignored by the sparse reward).
        log_reward_floor: added to R inside the log, ``log(R + floor)``, so that zero-reward
            states have a finite log-reward (paper: 1e-8).
    """

    ndim: int = 2
    height: int = 8
    reward: Any = "sparse"
    termination: str = "edge"
    r0: float = 0.1
    r1: float = 0.5
    r2: float = 2.0
    log_reward_floor: float = 1e-8

    def __post_init__(self) -> None:
        if not isinstance(self.ndim, int) or isinstance(self.ndim, bool) or self.ndim < 1:
            raise ValueError(f"ndim must be an integer >= 1, got {self.ndim!r}")
        if not isinstance(self.height, int) or isinstance(self.height, bool) or self.height < 3:
            raise ValueError(f"height must be an integer >= 3, got {self.height!r}")
        if self.ndim * math.log2(self.height) > 62:
            raise ValueError(
                f"ndim={self.ndim}, height={self.height}: the grid has height**ndim = {self.height}**{self.ndim} "
                "cells, too many to index with 64-bit integers; use fewer dimensions or a smaller height"
            )
        if self.termination not in TERMINATION_RULES:
            raise ValueError(f"termination must be one of {TERMINATION_RULES}, got {self.termination!r}")
        if self.log_reward_floor < 0:
            raise ValueError(f"log_reward_floor must be >= 0, got {self.log_reward_floor}")
        make_grid_reward(self)  # validates the reward name and constants
        if not isinstance(self.reward, str):
            Hypergrid(self)  # a custom reward is checked on the grid's cells now, before any run


class Hypergrid:
    """A batch-vectorised hypergrid. See the module docstring for the conventions.

    Example:
        >>> env = Hypergrid(HypergridConfig(ndim=2, height=8))
        >>> s = env.reset(4)                          # (4, 2) zeros
        >>> s, done = env.step(s, torch.tensor([0, 1, 2, 0]))
    """

    def __init__(self, config: HypergridConfig | None = None, device: str | torch.device = "cpu", **kwargs):
        if config is None:
            config = HypergridConfig(**kwargs)
        elif kwargs:
            raise ValueError("pass either a HypergridConfig or keyword arguments, not both")
        self.config = config
        self.ndim = config.ndim
        self.height = config.height
        self.termination = config.termination
        self.device = torch.device(device)
        self.name = "hypergrid"
        self.n_actions = self.ndim + 1
        self.stop_action = self.ndim
        self.n_backward_actions = self.ndim  # backward action d decrements coordinate d
        self.reward_fn: GridReward = make_grid_reward(config)
        self.reward_name = reward_name(config.reward)
        self.n_states = self.height**self.ndim
        # strides of the row-major mixed-radix index
        self._strides = torch.tensor(
            [self.height ** (self.ndim - 1 - d) for d in range(self.ndim)], dtype=torch.long, device=self.device
        )
        self._onehot_offsets = torch.arange(self.ndim, device=self.device) * self.height
        self._all_states: torch.Tensor | None = None
        if not isinstance(config.reward, str):
            self._check_custom_reward()

    def _check_custom_reward(self) -> None:
        """A reward object must map ``(B, ndim)`` states to ``(B,)`` finite rewards ``>= 0``."""
        states = self.all_states() if self.n_states <= MAX_ENUMERABLE_STATES else self.reset(4)
        what = f"reward {self.reward_name!r}"
        try:
            r = self.reward_fn(states)
        except Exception as error:  # the user's code: say where it failed, keep the cause
            raise ValueError(f"{what} failed on a batch of states of shape {tuple(states.shape)}: {error}") from error
        if not isinstance(r, torch.Tensor) or r.shape != (states.shape[0],):
            shape = tuple(r.shape) if isinstance(r, torch.Tensor) else type(r).__name__
            raise ValueError(f"{what} must return a tensor of shape (B,) = ({states.shape[0]},) for states of shape {tuple(states.shape)}, got {shape}")
        if not bool(torch.isfinite(r).all()):
            raise ValueError(f"{what} returned NaN or infinite values")
        if bool((r < 0).any()):
            raise ValueError(f"{what} returned negative rewards (min {float(r.min()):.3g}); rewards must be >= 0")

    # ------------------------------------------------------------------ basics
    @property
    def obs_dim(self) -> int:
        """Size of the one-hot encoding: ``ndim · H``."""
        return self.ndim * self.height

    @property
    def state_layout(self) -> tuple[int, ...]:
        """How per-state arrays are shaped for plots: ``(H,)*ndim`` (index order is row-major)."""
        return (self.height,) * self.ndim

    @property
    def max_moves(self) -> int:
        """Longest possible number of moves (increments) in one trajectory."""
        if self.termination == "edge":
            return self.ndim * (self.height - 2) + 1
        return self.ndim * (self.height - 1)

    def __repr__(self) -> str:
        c = self.config
        return f"Hypergrid(ndim={c.ndim}, height={c.height}, reward={self.reward_name!r}, termination={c.termination!r})"

    def reset(self, batch_size: int) -> torch.Tensor:
        """``batch_size`` copies of the initial state (the origin), shape ``(B, ndim)``."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        return torch.zeros(batch_size, self.ndim, dtype=torch.long, device=self.device)

    def validate_states(self, states: torch.Tensor) -> torch.Tensor:
        """Check shape ``(B, ndim)``, integer dtype and bounds; raise ``ValueError`` otherwise."""
        if states.dim() != 2 or states.shape[1] != self.ndim:
            raise ValueError(f"states must have shape (B, {self.ndim}), got {tuple(states.shape)}")
        if states.dtype.is_floating_point or states.dtype == torch.bool:
            raise ValueError(f"states must be an integer tensor, got dtype {states.dtype}")
        if states.numel() and (states.min() < 0 or states.max() >= self.height):
            raise ValueError(f"states outside the grid: coordinates must lie in [0, {self.height - 1}]")
        return states.long()

    # ------------------------------------------------------------------ structure
    def is_forced_terminal(self, states: torch.Tensor) -> torch.Tensor:
        """``(B,)`` bool: under the edge rule, states with some coordinate at ``H−1``."""
        if self.termination == "exit":
            return torch.zeros(states.shape[0], dtype=torch.bool, device=states.device)
        return (states == self.height - 1).any(dim=1)

    def is_reachable(self, states: torch.Tensor) -> torch.Tensor:
        """``(B,)`` bool: reachable from the origin (edge rule: at most one coordinate at ``H−1``)."""
        if self.termination == "exit":
            return torch.ones(states.shape[0], dtype=torch.bool, device=states.device)
        return (states == self.height - 1).sum(dim=1) <= 1

    def forward_mask(self, states: torch.Tensor) -> torch.Tensor:
        """``(B, ndim+1)`` bool mask of allowed actions (increments then stop).

        Edge rule: all increments and stop are allowed in non-terminal states; forced-terminal
        states get an all-False row (they are never stepped). Exit rule: increment ``d`` is
        allowed iff ``s_d < H−1``; stop is always allowed.
        """
        can_inc = states < self.height - 1
        stop = torch.ones(states.shape[0], 1, dtype=torch.bool, device=states.device)
        mask = torch.cat([can_inc, stop], dim=1)
        if self.termination == "edge":
            mask &= ~self.is_forced_terminal(states).unsqueeze(1)
        return mask

    def backward_mask(self, states: torch.Tensor) -> torch.Tensor:
        """``(B, ndim)`` bool: ``mask[b, d]`` iff ``s − e_d`` is a valid parent of ``s``.

        A parent must be inside the grid (``s_d > 0``) and, under the edge rule, must not itself be
        terminal: if ``s`` has a coordinate at ``H−1``, only that coordinate can be decremented.
        """
        mask = states > 0
        if self.termination == "edge":
            at_edge = states == self.height - 1
            n_at_edge = at_edge.sum(dim=1, keepdim=True)
            # parent = s - e_d keeps every other edge coordinate: valid iff no *other* coordinate is at the edge
            others_at_edge = n_at_edge - at_edge.long()
            mask &= others_at_edge == 0
        return mask

    def backward_action(self, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """The backward action undoing move ``actions`` from ``states``: incrementing coordinate
        ``d`` is undone by backward action ``d`` (decrement ``d``)."""
        return actions

    def parents(self, states: torch.Tensor) -> Parents:
        """All parents of each state (:class:`gafn_lib.core.env.Parents`): ``(B, ndim, ndim)``
        parent states, ``(B, ndim)`` forward actions from them and a ``(B, ndim)`` validity mask.

        ``parents[b, d]`` is ``s_b − e_d`` (the parent reached back through backward action ``d``,
        which moved forward by action ``d``); rows with ``mask[b, d] == False`` hold clamped
        placeholder coordinates and must be ignored.
        """
        eye = torch.eye(self.ndim, dtype=torch.long, device=states.device)
        par = (states.unsqueeze(1) - eye.unsqueeze(0)).clamp_min(0)
        actions = torch.arange(self.ndim, device=states.device).expand(states.shape[0], -1)
        return Parents(par, actions, self.backward_mask(states))

    def step(self, states: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Apply one action per state. Returns ``(next_states, done)``.

        ``done`` is True when the action was *stop* or (edge rule) the new state is at the edge.
        A stopped state is returned unchanged. Invalid actions raise ``ValueError``.
        """
        if actions.shape != (states.shape[0],):
            raise ValueError(f"actions must have shape ({states.shape[0]},), got {tuple(actions.shape)}")
        allowed = self.forward_mask(states).gather(1, actions.clamp(0, self.ndim).unsqueeze(1)).squeeze(1)
        if not bool(allowed.all()) or bool(((actions < 0) | (actions > self.ndim)).any()):
            raise ValueError("invalid action for at least one state (masked or out of range)")
        return self.step_unchecked(states, actions)

    def step_unchecked(self, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """:meth:`step` without validation (hot path of the sampler; actions come from masked logits)."""
        is_stop = actions == self.stop_action
        inc = torch.zeros_like(states)
        move_rows = (~is_stop).nonzero(as_tuple=True)[0]
        inc[move_rows, actions[move_rows]] = 1
        next_states = states + inc
        done = is_stop | self.is_forced_terminal(next_states)
        return next_states, done

    # ------------------------------------------------------------------ encodings
    def encode(self, states: torch.Tensor) -> torch.Tensor:
        """One-hot per dimension, concatenated: ``(B, ndim·H)`` float32."""
        out = torch.zeros(states.shape[0], self.obs_dim, device=states.device)
        out.scatter_(1, self.encode_indices(states), 1.0)
        return out

    def encode_indices(self, states: torch.Tensor) -> torch.Tensor:
        """The positions of the ``ndim`` ones of :meth:`encode`, ``(B, ndim)`` long: ``s_d + d·H``
        (the stacked networks read these instead of the dense one-hot rows)."""
        return states + self._onehot_offsets.to(states.device)

    def index(self, states: torch.Tensor) -> torch.Tensor:
        """Canonical index ``(B,)`` (row-major mixed radix)."""
        return (states * self._strides.to(states.device)).sum(dim=1)

    def coords(self, index: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`index`: ``(B,)`` → ``(B, ndim)``. Raises on out-of-range indices."""
        index = torch.as_tensor(index, dtype=torch.long, device=self.device)
        if index.numel() and (index.min() < 0 or index.max() >= self.n_states):
            raise ValueError(f"state index out of range [0, {self.n_states})")
        return (index.unsqueeze(1) // self._strides.to(index.device)) % self.height

    # ------------------------------------------------------------------ rewards
    def reward(self, states: torch.Tensor) -> torch.Tensor:
        """Extrinsic reward ``R(x)`` of terminal states, ``(B,)``."""
        return self.reward_fn(states)

    def log_reward(self, states: torch.Tensor) -> torch.Tensor:
        """``log(R(x) + log_reward_floor)`` — the training target."""
        return torch.log(self.reward_fn(states) + self.config.log_reward_floor)

    # ------------------------------------------------------------------ enumeration
    def _check_enumerable(self) -> None:
        if self.n_states > MAX_ENUMERABLE_STATES:
            raise ValueError(
                f"the grid has H**ndim = {self.height}**{self.ndim} = {self.n_states} cells, more than "
                f"MAX_ENUMERABLE_STATES = {MAX_ENUMERABLE_STATES}; exact enumeration is refused "
                "(use sampled metrics instead)"
            )

    def all_states(self) -> torch.Tensor:
        """Every cell, ``(H**ndim, ndim)``, in canonical-index order (cached)."""
        self._check_enumerable()
        if self._all_states is None:
            self._all_states = self.coords(torch.arange(self.n_states, device=self.device))
        return self._all_states

    def terminal_mask(self) -> torch.Tensor:
        """``(H**ndim,)`` bool: cells that can be the terminal state of a trajectory."""
        return self.is_reachable(self.all_states())

    def true_distribution(self) -> torch.Tensor:
        """Target ``p(x) = R(x) / Σ R`` over all cells ``(H**ndim,)`` (0 on unreachable cells).

        Uses the exact reward ``R`` (no log floor), float64.
        """
        r = self.reward(self.all_states()).double() * self.terminal_mask()
        total = r.sum()
        if total <= 0:
            raise ValueError("the reward is zero on every reachable state; the target is undefined")
        return r / total

    def log_partition(self) -> float:
        """``log Z = log Σ_x R(x)`` over reachable terminal states."""
        r = self.reward(self.all_states()).double() * self.terminal_mask()
        return float(torch.log(r.sum()))

    def mode_indices(self) -> torch.Tensor:
        """Canonical indices of the reward's modes that are reachable under the termination rule."""
        if not hasattr(self.reward_fn, "mode_states"):
            # a custom reward without declared modes: the reachable terminal cells of maximal reward
            r = self.reward(self.all_states()).double().masked_fill(~self.terminal_mask(), -math.inf)
            return (r >= r.max() * (1 - 1e-9)).nonzero(as_tuple=True)[0]
        modes = self.reward_fn.mode_states().to(self.device)
        modes = modes[self.is_reachable(modes)]
        return torch.sort(self.index(modes)).values

    @torch.no_grad()
    def exact_terminal_distribution(self, forward_probs: torch.Tensor) -> torch.Tensor:
        """Exact terminal distribution of a forward policy, by dynamic programming over the grid (the
        fast path of :func:`gafn_lib.core.exact.exact_terminal_distribution`, tested equal to its
        generic path).

        ``forward_probs`` is ``(H^ndim, ndim+1)``: row ``i`` holds ``P_F(·|s_i)`` over the actions
        (increments, then stop) of the cell with canonical index ``i``; rows of forced-terminal or
        unreachable cells are ignored, and masked actions must have probability 0.

        Recursion, processed level by level (level = Σ_d s_d, a topological order):
        ``P(s_0) = 1``, ``P(s') = Σ_{s ∈ Par(s')} P(s) P_F(s'|s)``; terminal probability
        ``P_T(x) = P(x) P_F(stop|x)``, or ``P_T(x) = P(x)`` for forced-terminal cells (edge rule).

        Returns ``P_T`` of shape ``(H^ndim,)``, float64, summing to 1.
        """
        env = self
        states = env.all_states()
        n, ndim, height = env.n_states, env.ndim, env.height
        if forward_probs.shape != (n, ndim + 1):
            raise ValueError(f"forward_probs must have shape ({n}, {ndim + 1}), got {tuple(forward_probs.shape)}")
        pf = forward_probs.detach().double().to(states.device)
        pf = pf * env.forward_mask(states)  # defensive: masked actions carry no mass
        forced = env.is_forced_terminal(states)
        strides = env._strides.to(states.device)

        level = states.sum(dim=1)
        order = torch.argsort(level, stable=True)
        counts = torch.bincount(level, minlength=ndim * (height - 1) + 1).tolist()
        reach = torch.zeros(n, dtype=torch.float64, device=states.device)
        reach[0] = 1.0
        start = 0
        for count in counts:
            idx = order[start : start + count]
            start += count
            idx = idx[~forced[idx]]
            if idx.numel() == 0:
                continue
            p_parent = reach[idx]
            can_move = states[idx] < height - 1  # (n_l, ndim)
            child = idx.unsqueeze(1) + strides.unsqueeze(0)  # (n_l, ndim)
            flow = p_parent.unsqueeze(1) * pf[idx, :ndim]
            reach.index_add_(0, child[can_move], flow[can_move])
        terminal = torch.where(forced, reach, reach * pf[:, ndim])
        return terminal

    @property
    def n_modes(self) -> int:
        return int(self.mode_indices().numel())
