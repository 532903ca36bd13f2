"""Block-graph message-passing network for the fragment MDP (plain PyTorch, batched over graphs).

Input: a :class:`~gafn_lib.envs.fragment_batch.BlockGraphBatch` (disjoint union of block graphs).

1. Node embedding ``h_i⁰ = E_frag[type_i] + Σ_{open stems σ on i} E_stem[type_σ]``.
2. ``n_rounds`` rounds of message passing over junctions ``j → i`` (``index_add`` over edges)::

       m_i = Σ_{j→i} MLP_msg([h_j, E_stem[t_src], E_stem[t_dst]])
       h_i ← LayerNorm(h_i + MLP_upd([h_i, m_i]))

3. Graph embedding ``g = MLP_read([mean_i h_i, (Σ_i h_i)/8])`` (the features RND uses).
4. Heads: per open stem σ on node i, ``logits_σ = MLP_stem([h_i, E_stem[type_σ], g]) ∈ R^V``
   (one logit per block); ``stop = MLP_stop(g)``; ``log F(s) = MLP_flow(g)``.

This is the ``"compact"`` network of :attr:`gafn_lib.molecules.config.MolTrainConfig.network`; the
public release's (``"release"``) is :class:`gafn_lib.molecules.release_net.ReleaseGraphNet`, and
:mod:`gafn_lib.molecules.networks` builds either by name.

For flow matching the logits are read as edge log-flows ``log F(s→s')``; for TB they are
normalised into ``log π(a|s)``. Defaults: hidden 128, 3 rounds (the 2021 block-graph models used
similar sizes; all are configurable).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from gafn_lib.envs.fragment_batch import BlockGraphBatch, flatten_logits


def _mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.LeakyReLU(), nn.Linear(hidden, n_out))


@dataclass
class MolPolicyOutput:
    """Network outputs for a batch of B states.

    Attributes:
        logits: (B, 1 + K·V) flat action logits (column 0 = stop), ``-inf`` on padding and, if a
            mask was given, on invalid actions.
        log_flow: (B,) ``log F(s)``.
        embedding: (B, hidden) graph embedding ``g``.
    """

    logits: torch.Tensor
    log_flow: torch.Tensor
    embedding: torch.Tensor


class BlockGraphPolicy(nn.Module):
    """Block-graph MPNN with stem×block logits, a stop logit, ``log F(s)`` and a graph embedding.

    Args:
        n_frags: fragment types (72); one extra id is the empty state's pseudo-node.
        n_stem_types: stem types (127 for the 105-block vocabulary); one extra id for the pseudo-stem.
        n_block_types: blocks that can be attached (105): the width of each stem's logits.
        hidden: width of all embeddings and hidden layers (default 128).
        n_rounds: message-passing rounds (default 3).
    """

    def __init__(self, n_frags: int, n_stem_types: int, n_block_types: int, hidden: int = 128, n_rounds: int = 3) -> None:
        super().__init__()
        if hidden < 1 or n_rounds < 0:
            raise ValueError(f"hidden must be >= 1 and n_rounds >= 0, got hidden={hidden}, n_rounds={n_rounds}")
        self.hidden, self.n_rounds, self.n_block_types = hidden, n_rounds, n_block_types
        self.frag_emb = nn.Embedding(n_frags + 1, hidden)
        self.stem_emb = nn.Embedding(n_stem_types + 1, hidden)
        self.msg = nn.ModuleList(_mlp(3 * hidden, hidden, hidden) for _ in range(n_rounds))
        self.upd = nn.ModuleList(_mlp(2 * hidden, hidden, hidden) for _ in range(n_rounds))
        self.norm = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(n_rounds))
        self.readout = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.LeakyReLU())
        self.stem_head = _mlp(3 * hidden, hidden, n_block_types)
        self.stop_head = _mlp(hidden, hidden, 1)
        self.flow_head = _mlp(hidden, hidden, 1)

    @classmethod
    def for_mdp(cls, mdp, hidden: int = 128, n_rounds: int = 3) -> "BlockGraphPolicy":
        v = mdp.vocab
        return cls(v.n_frags, v.n_stem_types, mdp.n_block_types, hidden, n_rounds)

    def _trunk(self, batch: BlockGraphBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(node states h (N, H), stem embeddings (S, H), graph embedding g (B, H))``."""
        n_nodes, n_graphs = batch.node_type.shape[0], batch.n_graphs
        stem_e = self.stem_emb(batch.stem_type)  # (S, H)
        h = self.frag_emb(batch.node_type).index_add(0, batch.stem_node, stem_e)  # (N, H)
        src, dst = batch.edge_index[0], batch.edge_index[1]
        edge_e = torch.cat([self.stem_emb(batch.edge_stem_type[:, 0]), self.stem_emb(batch.edge_stem_type[:, 1])], dim=1)
        for msg, upd, norm in zip(self.msg, self.upd, self.norm):
            m = msg(torch.cat([h[src], edge_e], dim=1))  # (E, H)
            agg = h.new_zeros(n_nodes, self.hidden).index_add(0, dst, m)
            h = norm(h + upd(torch.cat([h, agg], dim=1)))
        count = h.new_zeros(n_graphs).index_add(0, batch.node_graph, h.new_ones(n_nodes))
        total = h.new_zeros(n_graphs, self.hidden).index_add(0, batch.node_graph, h)
        g = self.readout(torch.cat([total / count[:, None], total / 8.0], dim=1))  # (B, H)
        return h, stem_e, g

    def embed(self, batch: BlockGraphBatch) -> torch.Tensor:
        """(B, H) graph embedding ``g`` alone (what RND reads; the heads are not evaluated)."""
        return self._trunk(batch)[2]

    def forward(self, batch: BlockGraphBatch, mask: torch.Tensor | None = None) -> MolPolicyOutput:
        h, stem_e, g = self._trunk(batch)
        stem_logits = self.stem_head(torch.cat([h[batch.stem_node], stem_e, g[batch.stem_graph]], dim=1))  # (S, V)
        max_stems = None if mask is None else (mask.shape[1] - 1) // self.n_block_types
        logits = flatten_logits(batch, stem_logits, self.stop_head(g).squeeze(1), max_stems)
        if mask is not None:
            logits = logits.masked_fill(~mask, -torch.inf)
        return MolPolicyOutput(logits=logits, log_flow=self.flow_head(g).squeeze(1), embedding=g)

