"""Tensorised batch operations of the fragment MDP: graph encodings for the network and action masks.

A batch of ``B`` states becomes one disjoint union of block graphs (``N`` block nodes, ``E``
directed junction edges, ``S`` open stems). The empty state is one pseudo-node (fragment id
``n_frags``) carrying one pseudo-stem (stem type ``n_stem_types``), so the first block is chosen
like any other attachment.

Flat action layout per state (see :mod:`gafn_lib.envs.fragments`): column ``0`` is *stop*,
column ``1 + k·V + b`` attaches block ``b`` at stem ``k``; a batch pads to ``A = 1 + K·V`` with
``K = max_stems`` (the largest stem count in the batch unless given).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import torch

from gafn_lib.envs.fragments import BlockState, FragmentMDP


@dataclass
class BlockGraphBatch:
    """Disjoint union of the block graphs of ``n_graphs`` states (all tensors long).

    Attributes:
        node_type: (N,) fragment id of each block node; ``n_frags`` for the empty state's pseudo-node.
        node_graph: (N,) graph (state) index of each node.
        edge_index: (2, E) directed junction edges (source, target), both directions of each bond.
        edge_stem_type: (E, 2) stem types of the source-side and target-side junction atoms.
        stem_node: (S,) node carrying each open stem.
        stem_type: (S,) stem type id; ``n_stem_types`` for the pseudo-stem of the empty state.
        stem_graph: (S,) graph index of each stem.
        stem_slot: (S,) position ``k`` of the stem in its state's sorted stem list.
        n_stems: (B,) open stems per state (1 for the empty state).
        n_blocks: (B,) blocks per state.
    """

    node_type: torch.Tensor
    node_graph: torch.Tensor
    edge_index: torch.Tensor
    edge_stem_type: torch.Tensor
    stem_node: torch.Tensor
    stem_type: torch.Tensor
    stem_graph: torch.Tensor
    stem_slot: torch.Tensor
    n_stems: torch.Tensor
    n_blocks: torch.Tensor

    @property
    def n_graphs(self) -> int:
        return int(self.n_stems.shape[0])

    @property
    def max_stems(self) -> int:
        return int(self.n_stems.max().item()) if self.n_graphs else 0

    def to(self, device: str | torch.device) -> "BlockGraphBatch":
        return BlockGraphBatch(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})


def encode_states(mdp: FragmentMDP, states: Sequence[BlockState], device: str | torch.device = "cpu") -> BlockGraphBatch:
    """Encode states as one :class:`BlockGraphBatch` (Python loop over blocks, one tensor build)."""
    if len(states) == 0:
        raise ValueError("encode_states needs at least one state")
    vocab = mdp.vocab
    node_type, node_graph, src, dst, est = [], [], [], [], []
    stem_node, stem_type, stem_graph, stem_slot, n_stems, n_blocks = [], [], [], [], [], []
    for g, s in enumerate(states):
        base = len(node_type)
        n_blocks.append(s.n_blocks)
        if s.n_blocks == 0:
            node_type.append(vocab.n_frags)
            node_graph.append(g)
            stem_node.append(base)
            stem_type.append(vocab.n_stem_types)
            stem_graph.append(g)
            stem_slot.append(0)
            n_stems.append(1)
            continue
        smiles = [vocab.frag_smiles[f] for f in s.frags]
        node_type.extend(s.frags)
        node_graph.extend([g] * s.n_blocks)
        for a, aa, b, ba in s.jbonds:
            ta, tb = vocab.stem_type[(smiles[a], aa)], vocab.stem_type[(smiles[b], ba)]
            src += [base + a, base + b]
            dst += [base + b, base + a]
            est += [(ta, tb), (tb, ta)]
        for k, (b, a) in enumerate(s.stems):
            stem_node.append(base + b)
            stem_type.append(vocab.stem_type[(smiles[b], a)])
            stem_graph.append(g)
            stem_slot.append(k)
        n_stems.append(len(s.stems))

    def t(x: list) -> torch.Tensor:
        return torch.tensor(x, dtype=torch.long, device=device)

    return BlockGraphBatch(
        node_type=t(node_type),
        node_graph=t(node_graph),
        edge_index=t([src, dst]).view(2, -1),
        edge_stem_type=t(est).view(-1, 2),
        stem_node=t(stem_node),
        stem_type=t(stem_type),
        stem_graph=t(stem_graph),
        stem_slot=t(stem_slot),
        n_stems=t(n_stems),
        n_blocks=t(n_blocks),
    )


def forward_masks(mdp: FragmentMDP, states: Sequence[BlockState], max_stems: int | None = None, device: str | torch.device = "cpu") -> torch.Tensor:
    """Valid-action mask (B, 1 + K·V): *stop* where allowed; every block at every open stem unless forced.

    A forced-terminal state (``max_blocks`` reached, or no open stem) has only *stop*.
    """
    n_stems = torch.tensor([mdp.n_stems(s) for s in states], dtype=torch.long, device=device)
    forced = torch.tensor([mdp.is_forced_terminal(s) for s in states], dtype=torch.bool, device=device)
    can_stop = torch.tensor([mdp.can_stop(s) for s in states], dtype=torch.bool, device=device)
    k = int(n_stems.max().item()) if max_stems is None else max_stems
    if max_stems is not None and bool((n_stems > max_stems).any()):
        raise ValueError(f"max_stems={max_stems} is smaller than a state's stem count {int(n_stems.max())}")
    slot_ok = (torch.arange(k, device=device)[None, :] < n_stems[:, None]) & ~forced[:, None]  # (B, K)
    attach = slot_ok[:, :, None].expand(-1, -1, mdp.n_block_types).reshape(len(states), -1)
    return torch.cat([can_stop[:, None], attach], dim=1)


def flatten_logits(batch: BlockGraphBatch, stem_logits: torch.Tensor, stop_logits: torch.Tensor, max_stems: int | None = None) -> torch.Tensor:
    """Scatter per-stem logits (S, V) and stop logits (B,) into the flat layout (B, 1 + K·V).

    Padding slots (stems a state does not have) are ``-inf``.
    """
    k = batch.max_stems if max_stems is None else max_stems
    n_graphs, n_types = batch.n_graphs, stem_logits.shape[1]
    padded = stem_logits.new_full((n_graphs, k, n_types), -torch.inf)
    padded = padded.index_put((batch.stem_graph, batch.stem_slot), stem_logits)
    return torch.cat([stop_logits[:, None], padded.reshape(n_graphs, k * n_types)], dim=1)


def equivalent_action_mask(mdp: FragmentMDP, states: Sequence[BlockState], actions: Sequence[int], n_columns: int, device: str | torch.device = "cpu") -> torch.Tensor:
    """(B, n_columns) mask of the actions giving the same child as ``actions[i]`` in ``states[i]``.

    ``log P_F(s'|s) = logsumexp(log π(·|s)[mask])``.
    """
    mask = torch.zeros(len(states), n_columns, dtype=torch.bool, device=device)
    rows, cols = [], []
    for i, (s, a) in enumerate(zip(states, actions)):
        eq = mdp.equivalent_actions(s, int(a))
        rows += [i] * len(eq)
        cols += eq
    mask[torch.tensor(rows, dtype=torch.long, device=device), torch.tensor(cols, dtype=torch.long, device=device)] = True
    return mask


def log_n_removable(mdp: FragmentMDP, states: Sequence[BlockState], device: str | torch.device = "cpu") -> torch.Tensor:
    """(B,) ``log |removable leaves|``; a uniform backward policy has ``log P_B = -log_n_removable``."""
    counts = [max(len(mdp.removable_leaves(s)), 1) for s in states]
    return torch.tensor(counts, dtype=torch.float32, device=device).log()
