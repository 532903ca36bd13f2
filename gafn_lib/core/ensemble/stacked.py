"""Stacked MLPs: ``K`` independent networks of identical shape evaluated as one batched model.

Member ``k`` owns the slice ``[k]`` of every parameter: weights ``W (K, in, out)`` and biases
``b (K, 1, out)``. A layer is ``y_k = x_k W_k + b_k`` for every member at once (``torch.baddbmm``),
so gradients, Adam moments and updates of different members never mix (Adam is elementwise: one
Adam over stacked tensors is ``K`` independent Adams with the same hyperparameters).

The first layer has two inputs:

- a dense ``x (K, N, in)`` (any :meth:`encode`), or
- the *active indices* ``idx (K, N, m)`` of an encoding that is a sum of ``m`` one-hots (the
  hypergrid's concatenated one-hot per coordinate): ``x W = Σ_j W[idx_j]``, a gather of ``m`` rows
  instead of a ``(N, in) @ (in, out)`` product with a mostly-zero ``x``.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F


def init_stacked_linear(
    fan_in: int, fan_out: int, generators: Sequence[torch.Generator], device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(W (K, in, out), b (K, 1, out))`` with PyTorch's default ``nn.Linear`` distribution,
    ``U(−1/√in, 1/√in)`` for both, member ``k`` drawn from ``generators[k]`` only (so a member's
    initial network depends on its own seed, never on the other members)."""
    bound = 1.0 / math.sqrt(fan_in)
    weights, biases = [], []
    for gen in generators:
        w = torch.empty(fan_out, fan_in, device=device).uniform_(-bound, bound, generator=gen)
        b = torch.empty(fan_out, device=device).uniform_(-bound, bound, generator=gen)
        weights.append(w.t())
        biases.append(b.view(1, fan_out))
    return torch.stack(weights).contiguous(), torch.stack(biases).contiguous()


#: Output widths up to this one multiply faster with the weight laid out as ``(K, out, in)``:
#: measured on one core (this machine's BLAS), ``(4096, 256) @ (256, out)`` took 1.5–2.7 ms as
#: ``(in, out)`` and 0.7–1.1 ms as ``(out, in)`` for out ∈ {6, 8, 10} (a policy head:
#: forward + backward actions + flow), the same or slower for out ≥ 12.
NARROW_OUTPUT = 10


def matmul_layout(w: torch.Tensor) -> torch.Tensor:
    """``w (K, in, out)`` as the second operand of a batched matmul: for a narrow output
    (``out <= NARROW_OUTPUT``) a view of a ``(K, out, in)`` copy (same values, so the same maths up
    to float rounding of the BLAS kernel; gradients flow through the copy), else ``w`` itself."""
    if w.shape[-1] <= NARROW_OUTPUT:
        return w.transpose(-1, -2).contiguous().transpose(-1, -2)
    return w


#: Every member's slice of a stacked parameter holds a multiple of this many elements (one 64-byte
#: cache line of float32). The fused Adam kernel runs the vectorised update on whole vectors and a
#: scalar loop on the remainder of each tensor, and the two round differently; with aligned slices
#: a member's elements are updated by the vectorised loop whatever the ensemble's size, so a member
#: is updated exactly as it is alone. Narrower layers are stored padded (see :meth:`StackedMLP.layer`).
MEMBER_ALIGN = 16


def aligned_width(width: int) -> int:
    """``width`` rounded up to a multiple of :data:`MEMBER_ALIGN`."""
    return -(-width // MEMBER_ALIGN) * MEMBER_ALIGN


class StackedMLP(nn.Module):
    """``K`` MLPs ``sizes[0] → … → sizes[-1]`` with LeakyReLU between layers (and after the last
    one if ``final_activation``), evaluated together.

    Args:
        sizes: layer widths, input first.
        generators: one ``torch.Generator`` per member (its parameters are drawn from it, in order).
        device: where the parameters live.
        trainable: ``False`` registers buffers instead of parameters (a frozen random network,
            e.g. RND's target).
    """

    def __init__(
        self,
        sizes: Sequence[int],
        generators: Sequence[torch.Generator],
        device: torch.device | str = "cpu",
        final_activation: bool = False,
        trainable: bool = True,
    ):
        super().__init__()
        if len(sizes) < 2 or any(int(s) < 1 for s in sizes):
            raise ValueError(f"sizes must list at least two widths >= 1, got {list(sizes)}")
        if len(generators) < 1:
            raise ValueError("generators must hold one torch.Generator per member (at least one)")
        self.sizes = [int(s) for s in sizes]
        self.n_members = len(generators)
        self.final_activation = final_activation
        self.n_layers = len(self.sizes) - 1
        self.register_buffer("member_offsets", torch.arange(self.n_members, device=device).view(-1, 1, 1), persistent=False)
        for i, (fan_in, fan_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:])):
            w, b = init_stacked_linear(fan_in, fan_out, generators, torch.device(device))
            if fan_out % MEMBER_ALIGN:  # stored padded with zero columns that nothing reads (their gradient is 0)
                w = torch.nn.functional.pad(w, (0, aligned_width(fan_out) - fan_out))
                b = torch.nn.functional.pad(b, (0, aligned_width(fan_out) - fan_out))
            if trainable:
                self.register_parameter(f"weight{i}", nn.Parameter(w))
                self.register_parameter(f"bias{i}", nn.Parameter(b))
            else:
                self.register_buffer(f"weight{i}", w)
                self.register_buffer(f"bias{i}", b)

    def layer(self, i: int, members: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Layer ``i``'s ``(W (K, in, out), b (K, 1, out))``: every member's, or those of ``members``
        (an index tensor). Views of the stored tensors, whose last dimension may be padded to
        :data:`MEMBER_ALIGN`."""
        w, b = getattr(self, f"weight{i}"), getattr(self, f"bias{i}")
        out = self.sizes[i + 1]
        if w.shape[-1] != out:
            w, b = w[..., :out], b[..., :out]
        if members is None:
            return w, b
        return w.index_select(0, members), b.index_select(0, members)

    def _rest(self, h: torch.Tensor, members: torch.Tensor | None = None) -> torch.Tensor:
        """Layers 1… applied to the first layer's pre-activation ``h (K, N, sizes[1])``.

        The activations are computed in place (every pre-activation here is a fresh tensor that
        nothing else reads; autograd's LeakyReLU backward needs only its output)."""
        for i in range(1, self.n_layers):
            h = F.leaky_relu_(h)
            w, b = self.layer(i, members)
            h = torch.baddbmm(b, h, matmul_layout(w))
        return F.leaky_relu_(h) if self.final_activation else h

    def forward(self, x: torch.Tensor, members: torch.Tensor | None = None) -> torch.Tensor:
        """``x (K, N, in)`` dense inputs → ``(K, N, out)`` (with ``members``: ``x`` holds only
        those members' rows)."""
        w, b = self.layer(0, members)
        return self._rest(torch.baddbmm(b, x, matmul_layout(w)), members)

    def forward_onehot(self, idx: torch.Tensor, members: torch.Tensor | None = None) -> torch.Tensor:
        """``idx (K, N, m)`` active indices of a sum-of-one-hots input → ``(K, N, out)``.

        Equal to :meth:`forward` on ``x[k, n] = Σ_j onehot(idx[k, n, j])`` (up to float rounding
        of the sum order): the first layer gathers ``m`` rows of ``W_k`` and sums them. (A gather
        and a sum, not ``embedding_bag``: the latter's backward accumulates in an order that
        depends on the whole batch, so a member's gradient would depend on its partners.)
        """
        w, b = self.layer(0, members)
        n_members, n_rows, m = idx.shape
        fan_in = w.shape[1]
        offsets = torch.arange(n_members, device=idx.device).view(-1, 1, 1) * fan_in
        flat = (idx + offsets).view(-1)
        rows = w.reshape(n_members * fan_in, -1).index_select(0, flat).view(n_members * n_rows, m, -1).sum(dim=1)
        return self._rest(rows.view(n_members, n_rows, -1).add_(b), members)  # in place: the sum's backward does not read its output

    def member_layers(self) -> list[list[tuple[torch.Tensor, torch.Tensor]]]:
        """Every member's layers as 2-D views ``[(W_k (in, out), b_k (1, out)), …]``, from one
        ``unbind`` of each stored tensor (so evaluating all members one by one costs one backward
        node per tensor, not one full-size gradient per member). Recompute them every step: the
        optimiser updates the stored tensors in place."""
        per_layer = []
        for i in range(self.n_layers):
            out = self.sizes[i + 1]
            ws = getattr(self, f"weight{i}").unbind(0)
            bs = getattr(self, f"bias{i}").unbind(0)
            per_layer.append([(w[:, :out], b[:, :out]) for w, b in zip(ws, bs)])
        return [list(layers) for layers in zip(*per_layer)]

    def forward_member(self, inputs: "StackedInputs", layers: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        """One member's network (``layers`` from :meth:`member_layers`) on ``inputs`` with a leading
        dimension of 1 → ``(1, N, out)``: the same operations whether the member trains alone or
        beside others (2-D matrix products of its own rows only)."""
        w, b = layers[0]
        if inputs.indices is not None:
            idx = inputs.indices[0]
            if torch.is_grad_enabled() and w.requires_grad:  # a gather and a sum (see forward_onehot)
                h = w.index_select(0, idx.reshape(-1)).view(idx.shape[0], idx.shape[1], -1).sum(dim=1).add_(b)
            else:  # no backward: the fused op, whose forward sums each row's m rows in order
                h = F.embedding_bag(idx, w, mode="sum").add_(b)
        else:
            h = torch.addmm(b, inputs.dense[0], matmul_layout(w))
        for w, b in layers[1:]:
            h = torch.addmm(b, F.leaky_relu_(h), matmul_layout(w))
        if self.final_activation:
            h = F.leaky_relu_(h)
        return h.unsqueeze(0)

    def forward_inputs(self, inputs: "StackedInputs", members: torch.Tensor | None = None) -> torch.Tensor:
        """Dispatch on the kind of input (see :class:`StackedInputs`)."""
        if inputs.indices is not None:
            return self.forward_onehot(inputs.indices, members)
        return self.forward(inputs.dense, members)

    def flops_per_row(self) -> int:
        """Multiply-adds ×2 of one input row through the dense layers (the one-hot first layer is a gather)."""
        return 2 * sum(a * b for a, b in zip(self.sizes[:-1], self.sizes[1:]))


class StackedInputs:
    """Inputs of a stacked network: exactly one of ``dense (K, N, in)`` or ``indices (K, N, m)``."""

    __slots__ = ("dense", "indices")

    def __init__(self, dense: torch.Tensor | None = None, indices: torch.Tensor | None = None):
        if (dense is None) == (indices is None):
            raise ValueError("give exactly one of dense or indices")
        self.dense, self.indices = dense, indices

    def select(self, member_index: torch.Tensor) -> "StackedInputs":
        """The inputs of a subset of members (``member_index`` into the first dimension)."""
        if self.indices is not None:
            return StackedInputs(indices=self.indices.index_select(0, member_index))
        return StackedInputs(dense=self.dense.index_select(0, member_index))
