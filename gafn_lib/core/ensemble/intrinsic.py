"""Intrinsic rewards stacked over ensemble members: RND (paper) and the count bonus.

Each class holds only the members that use it (``K_r`` RND members, ``K_c`` count members); the
trainer maps member slots. The formulas are those of :class:`gafn_lib.core.intrinsic.RND` and
:class:`gafn_lib.core.intrinsic.CountBonus`.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from gafn_lib.core.ensemble.stacked import StackedInputs, StackedMLP

#: Largest cached RND target table, in float32 entries over all RND members (512 MB).
MAX_TARGET_TABLE_ENTRIES = 2**27


class StackedRND(nn.Module):
    """RND novelty per member: ``r_k(s) = η_k · ‖f̂_k(s) − f_k(s)‖₂`` (Burda et al. 2019; paper §5).

    ``f_k`` is member ``k``'s fixed random target network, ``f̂_k`` its trained predictor, both
    ``input_dim → 256 → 256 → 128`` with LeakyReLU. The predictor's loss is the mean of the same
    norm over the visited states (weight 1, added to the training loss).

    The target network never changes, so on an environment that lists its states its outputs are
    computed once per state (:meth:`cache_targets`) and read by state index afterwards.
    """

    def __init__(
        self,
        input_dim: int,
        etas: Sequence[float],
        generators: Sequence[torch.Generator],
        device: torch.device | str = "cpu",
        hidden: tuple[int, ...] = (256, 256),
        output_dim: int = 128,
    ):
        super().__init__()
        if any(e < 0 for e in etas):
            raise ValueError(f"eta (intrinsic coefficient) must be >= 0, got {list(etas)}")
        if len(etas) != len(generators):
            raise ValueError(f"{len(etas)} etas for {len(generators)} members")
        sizes = [input_dim, *hidden, output_dim]
        # per member: target first, then predictor (each member's draws come from its own generator)
        self.target = StackedMLP(sizes, generators, device, trainable=False)
        self.predictor = StackedMLP(sizes, generators, device)
        self.register_buffer("eta", torch.tensor(list(etas), dtype=torch.float32, device=device).view(-1, 1), persistent=False)
        self.register_buffer("target_table", torch.empty(0, device=device), persistent=False)

    @property
    def n_members(self) -> int:
        return self.predictor.n_members

    @torch.no_grad()
    def cache_targets(self, all_inputs: StackedInputs) -> bool:
        """Compute ``f_k(s)`` for every state (``all_inputs`` with ``N = n_states`` rows per member,
        in index order). Returns False (and caches nothing) above :data:`MAX_TARGET_TABLE_ENTRIES`."""
        rows = (all_inputs.indices if all_inputs.indices is not None else all_inputs.dense).shape[1]
        if rows * self.n_members * self.target.sizes[-1] > MAX_TARGET_TABLE_ENTRIES:
            return False
        self.target_table = self.target.forward_inputs(all_inputs)
        return True

    def errors(self, inputs: StackedInputs, index: torch.Tensor | None = None, slots: torch.Tensor | None = None) -> torch.Tensor:
        """``‖f̂_k(s) − f_k(s)‖₂`` ``(K_r, N)``, differentiable w.r.t. the predictors. ``index (K_r, N)``
        reads the targets from the cache when there is one; ``slots`` (an index tensor) restricts
        the members to those RND slots (``inputs`` and ``index`` then hold only theirs)."""
        if index is not None and self.target_table.numel():
            table = self.target_table if slots is None else self.target_table.index_select(0, slots)
            target = table.gather(1, index.unsqueeze(2).expand(-1, -1, table.shape[2]))
        else:
            with torch.no_grad():
                target = self.target.forward_inputs(inputs, slots)
        return (self.predictor.forward_inputs(inputs, slots) - target).norm(dim=-1)


    def member_errors(self, inputs: StackedInputs, index: torch.Tensor | None, layers, slot: int) -> torch.Tensor:
        """:meth:`errors` of one member alone (``slot`` among the RND members; ``layers`` its entry
        of ``predictor.member_layers()``; ``inputs`` and ``index`` with a leading dimension of 1)."""
        if index is not None and self.target_table.numel():
            table = self.target_table[slot]
            target = table.index_select(0, index[0]).unsqueeze(0)
        else:
            with torch.no_grad():
                target = self.target.forward_member(inputs, self.target.member_layers()[slot])
        return (self.predictor.forward_member(inputs, layers) - target).norm(dim=-1)


class StackedCounts(nn.Module):
    """Count bonus per member: ``r_k(s) = η_k / √N_k(s)`` with ``N_k(s)`` member ``k``'s visits of ``s``
    so far (an unvisited state gets ``η_k``). :meth:`update` before :meth:`reward`."""

    def __init__(self, n_states: int, etas: Sequence[float], device: torch.device | str = "cpu"):
        super().__init__()
        if any(e < 0 for e in etas):
            raise ValueError(f"eta (intrinsic coefficient) must be >= 0, got {list(etas)}")
        if n_states < 1:
            raise ValueError(f"n_states must be >= 1, got {n_states}")
        self.n_states = n_states
        self.register_buffer("counts", torch.zeros(len(etas), n_states, dtype=torch.long, device=device))
        self.register_buffer("eta", torch.tensor(list(etas), dtype=torch.float32, device=device).view(-1, 1), persistent=False)

    def update(self, index: torch.Tensor, weight: torch.Tensor) -> None:
        """Add ``weight (K_c, N)`` (visits, e.g. 0/1 for padding/real) at ``index (K_c, N)``."""
        offsets = (torch.arange(index.shape[0], device=index.device) * self.n_states).view(-1, 1)
        self.counts.view(-1).index_add_(0, (index + offsets).reshape(-1), weight.reshape(-1).long())

    def reward(self, index: torch.Tensor) -> torch.Tensor:
        """``η_k / √max(N_k(s), 1)`` ``(K_c, N)``."""
        n = self.counts.gather(1, index).clamp_min(1).to(torch.float32)
        return self.eta / n.sqrt()
