"""Bit strings: a small environment that ships with the library to show the protocol at work.

A state is a string of at most ``L`` bits, held as a ``(B, L)`` long tensor with ``-1`` after the
string's end. From the empty string, each move appends a bit (action 0 or 1); *stop* (action 2)
ends the episode at any length ``>= min_length``; a string of length ``L`` must end there. Every
state has one parent (the DAG is a tree): the one backward action removes the last bit.

Reward (a sum of bumps around target strings):
``R(x) = r0 + Σ_{t ∈ targets} exp(−beta · d(x, t))``, with ``d`` the Hamming distance after
padding the shorter string (each missing position counts as a mismatch). The targets are the modes.

State index: a string of length ``l`` with bits ``b`` has index ``(2^l − 1) + int(b, base 2)``, so
the ``2^(L+1) − 1`` states are listed shortest first (:meth:`BitSequences.all_states`).

Example:
    >>> env = BitSequences(BitSequencesConfig(length=6, targets=("000111", "111000", "010101", "101010")))
    >>> GFlowNetTrainer(TrainConfig(objective="tb", n_steps=500), env=env).train()
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from gafn_lib.core.env import Parents

#: Largest string length (so that the 2^(L+1) − 1 states stay enumerable).
MAX_LENGTH = 20


@dataclass(frozen=True)
class BitSequencesConfig:
    """Bit strings up to ``length`` bits.

    Attributes:
        length: the longest string L (1..20).
        targets: target strings (the reward's modes), each of ``0``/``1`` characters, at most L long.
        beta: sharpness of the bumps around the targets (> 0).
        r0: reward floor (>= 0) added everywhere.
        min_length: shortest string that may stop (0..L).
    """

    length: int = 6
    targets: tuple[str, ...] = ("000111", "111000", "010101", "110011")
    beta: float = 2.0
    r0: float = 1e-3
    min_length: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.length, int) or isinstance(self.length, bool) or not 1 <= self.length <= MAX_LENGTH:
            raise ValueError(f"length must be an integer in [1, {MAX_LENGTH}], got {self.length!r}")
        if isinstance(self.targets, str) or not self.targets:
            raise ValueError(f"targets must be a non-empty tuple of bit strings, got {self.targets!r}")
        object.__setattr__(self, "targets", tuple(self.targets))
        for t in self.targets:
            if not isinstance(t, str) or not t or set(t) - {"0", "1"} or len(t) > self.length:
                raise ValueError(f"each target must be a string of 0/1 of length 1..{self.length}, got {t!r}")
        if not isinstance(self.beta, (int, float)) or not math.isfinite(self.beta) or self.beta <= 0:
            raise ValueError(f"beta must be a finite number > 0, got {self.beta!r}")
        if not isinstance(self.r0, (int, float)) or not math.isfinite(self.r0) or self.r0 < 0:
            raise ValueError(f"r0 must be a finite number >= 0, got {self.r0!r}")
        if not isinstance(self.min_length, int) or not 0 <= self.min_length <= self.length:
            raise ValueError(f"min_length must be an integer in [0, length={self.length}], got {self.min_length!r}")

    def make(self, device="cpu") -> "BitSequences":
        """The environment (what :class:`gafn_lib.core.config.EnvTrainConfig` calls)."""
        return BitSequences(self, device=device)


class BitSequences:
    """Bit strings up to ``L`` bits, vectorised over a batch (see the module docstring)."""

    name = "bitseq"
    n_actions = 3  # append 0, append 1, stop
    stop_action = 2
    n_backward_actions = 1  # remove the last bit

    def __init__(self, config: BitSequencesConfig | None = None, device: str | torch.device = "cpu", **kwargs):
        self.config = config if config is not None else BitSequencesConfig(**kwargs)
        self.device = torch.device(device)
        self.length = self.config.length
        self.max_moves = self.length
        self.obs_dim = 3 * self.length  # one-hot of (empty, 0, 1) per position
        self.n_states = 2 ** (self.length + 1) - 1
        self._targets = [torch.tensor([int(c) for c in t], device=self.device) for t in self.config.targets]
        self._powers = 2 ** torch.arange(self.length - 1, -1, -1, device=self.device)

    def __repr__(self) -> str:
        c = self.config
        return f"BitSequences(length={c.length}, targets={c.targets}, beta={c.beta}, r0={c.r0}, min_length={c.min_length})"

    # ------------------------------------------------------------------ protocol
    def lengths(self, states: torch.Tensor) -> torch.Tensor:
        return (states >= 0).sum(dim=1)

    def reset(self, batch_size: int) -> torch.Tensor:
        return torch.full((batch_size, self.length), -1, dtype=torch.long, device=self.device)

    def forward_mask(self, states: torch.Tensor) -> torch.Tensor:
        n = self.lengths(states)
        grow = (n < self.length).unsqueeze(1).expand(-1, 2)
        stop = ((n >= self.config.min_length) & (n < self.length)).unsqueeze(1)
        return torch.cat([grow, stop], dim=1)

    def backward_mask(self, states: torch.Tensor) -> torch.Tensor:
        return (self.lengths(states) > 0).unsqueeze(1)

    def step_unchecked(self, states: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = self.lengths(states)
        move = actions != self.stop_action
        rows = move.nonzero(as_tuple=True)[0]
        nxt = states.clone()
        nxt[rows, n[rows]] = actions[rows]
        done = ~move | (self.lengths(nxt) == self.length)
        return nxt, done

    def backward_action(self, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(actions)

    def parents(self, states: torch.Tensor) -> Parents:
        n = self.lengths(states)
        last = (n - 1).clamp_min(0)
        parent = states.clone()
        parent[torch.arange(states.shape[0], device=states.device), last] = -1
        action = states.gather(1, last.unsqueeze(1)).squeeze(1).clamp_min(0)
        return Parents(parent.unsqueeze(1), action.unsqueeze(1), (n > 0).unsqueeze(1))

    def encode(self, states: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.one_hot(states + 1, 3).reshape(states.shape[0], -1).float()

    def reward(self, states: torch.Tensor) -> torch.Tensor:
        """``R(x) = r0 + Σ_t exp(−beta · d(x, t))`` (float32, ``(B,)``)."""
        total = torch.full((states.shape[0],), float(self.config.r0), dtype=torch.float64, device=states.device)
        for target in self._targets:
            padded = torch.full((self.length,), -2, dtype=torch.long, device=states.device)
            padded[: target.numel()] = target
            mismatch = (states != padded.unsqueeze(0)).sum(dim=1)  # -1 (empty) vs -2 (no target bit) also mismatch
            both_empty = (states == -1) & (padded.unsqueeze(0) == -2)
            distance = mismatch - both_empty.sum(dim=1)
            total += torch.exp(-self.config.beta * distance.double())
        return total.float()

    def log_reward(self, states: torch.Tensor) -> torch.Tensor:
        return torch.log(self.reward(states))

    # ------------------------------------------------------------------ enumeration
    def index(self, states: torch.Tensor) -> torch.Tensor:
        n = self.lengths(states)
        value = (states.clamp_min(0) * self._powers.to(states.device)).sum(dim=1) // (2 ** (self.length - n))
        return (2**n - 1) + value

    def all_states(self) -> torch.Tensor:
        rows = []
        for n in range(self.length + 1):
            values = torch.arange(2**n, device=self.device)
            bits = (values.unsqueeze(1) >> torch.arange(n - 1, -1, -1, device=self.device)) & 1 if n else values.new_zeros(1, 0)
            block = torch.full((2**n, self.length), -1, dtype=torch.long, device=self.device)
            block[:, :n] = bits
            rows.append(block)
        return torch.cat(rows)

    def mode_indices(self) -> torch.Tensor:
        """The target strings' indices (the reward's modes)."""
        states = self.reset(len(self._targets))
        for i, t in enumerate(self._targets):
            states[i, : t.numel()] = t
        return torch.sort(torch.unique(self.index(states))).values

    def to_strings(self, states: torch.Tensor) -> list[str]:
        """``["0101", ...]`` for a batch of states."""
        return ["".join(str(int(b)) for b in row if b >= 0) for row in states.cpu()]
