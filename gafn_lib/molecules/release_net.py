"""The public release's block-graph network, in plain PyTorch (``network="release"``).

The molecule networks of the public release (``ling-pan/GAFN``, ``mols/model_block.py``: the policy
``GraphAgent`` and the RND networks ``StateEmbeddingNet``, with the arguments of ``mols/gflownet.py``:
``--nemb 256``, ``--num_conv_steps 10``, ``--model_version v4``, ``out_per_mol=1``), rebuilt from
their equations; no torch_geometric. Notation: ``H`` = width, ``N`` block nodes, ``S`` open stems.

**Trunk** (:class:`ReleaseStateEmbedding`, the release's ``StateEmbeddingNet``)::

    x_i⁰   = MLP_in(E_block[type_i])                    MLP_in = Linear(H,H) · LeakyReLU · Linear(H,H)
    for r = 1 … n_rounds (one convolution and one GRU, shared by every round):
        m_i   = LeakyReLU( Θ x_i + β + mean_{e: j→i} (x_j · a_e) b_e )
        x_i  ← GRU(m_i, x_i)
    g      = mean_i x_i                                 (per graph: the graph embedding)

The message term is ``torch_geometric.nn.NNConv(H, H, nn.Sequential(), aggr="mean")`` with the
release's edge attribute: the edge weight is ``W_e = a_e b_eᵀ`` (H×H), the outer product of the
*bond* embeddings ``a_e = E_bond[σ_src]``, ``b_e = E_bond[σ_dst]`` of the two junction atoms (a table
separate from the stem embedding), so ``x_jᵀ W_e = (x_j · a_e) b_eᵀ``: computed here as one dot
product and one scaled vector per edge, never an H×H matrix. ``Θ`` (no bias, uniform
``±1/√H`` initialisation) and ``β`` (zeros) are NNConv's root weight and bias; a node without incoming
edges gets ``Θ x_i + β`` (mean over nothing = 0). The GRU is the release's one-layer ``nn.GRU`` run
for one time step, whose output is its new hidden state: it is an ``nn.GRUCell``.

Edges follow the release's junction bonds: each bond is *directed* from the block that held the stem
to the block attached there (``edge_index = jbonds[:, :2]ᵀ`` in the release; in
:class:`~gafn_lib.envs.fragment_batch.BlockGraphBatch` the even-indexed edges, see
:func:`forward_edges`). Messages therefore flow away from the first block, and the first block never
receives one.

**Heads** (:class:`ReleaseGraphNet`, the release's ``GraphAgent``)::

    logits_σ = MLP_stem([x_{node(σ)}, E_stem[type_σ]]) ∈ R^V    MLP_stem: 2H → H → H → V, LeakyReLU
    [stop, log F(s)] = MLP_glob(g)                            MLP_glob: H → H → 2, LeakyReLU

How the outputs are read. In the release's flow matching every output is an edge log-flow: the stem
head's ``(σ, b)`` entry is ``log F(s → attach b at σ)`` and the molecule head's column 0
(``mol_o[:, 0]``, ``out_per_mol = 1``) is the stop edge's ``log F(s → ⊤)``: the out-flow of ``s`` is
``Σ exp(stem outputs) + exp(mol_o[:, 0])`` (``sum_output``) and the in-flow of a state sums the
parents' edge outputs (``index_output_by_action``, where action ``(-1, ·)`` reads ``mol_o[:, 0]``).
There is no separate state flow. Here ``logits[:, 0]`` (stop, via
:func:`~gafn_lib.envs.fragment_batch.flatten_logits`) is the release's ``mol_o[:, 0]`` and
``logits[:, 1 + k·V + b]`` its ``stem_o[k, b]``. The molecule head has one more column,
``log_flow`` = ``log F(s)``, which only DB / SubTB read (flow matching never does: its gradient is
zero there, so FM runs train the same function as the release's one-column head).
``embedding`` is the mean-pooled ``g`` (what the release's RND reads).

**Speed** (the same function, computed once per distinct input): with these directed edges a
node's state depends only on its ancestor path, so nodes with equal paths in a batch are computed
once (:meth:`ReleaseStateEmbedding.unique_node_states`), and the stem head runs once per distinct
(node, stem type) pair. While sampling, one :class:`AncestorPathCache` per sampling pass
(:meth:`ReleaseGraphNet.sampling_cache`) keeps every path's states of every round, so each call
computes only the blocks attached since the last one (one per trajectory).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from gafn_lib.envs.fragment_batch import BlockGraphBatch, flatten_logits
from gafn_lib.molecules.policy import MolPolicyOutput


def _check_sizes(hidden: int, n_rounds: int) -> None:
    if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1:
        raise ValueError(f"hidden must be an integer >= 1, got {hidden!r}")
    if isinstance(n_rounds, bool) or not isinstance(n_rounds, int) or n_rounds < 0:
        raise ValueError(f"n_rounds must be an integer >= 0, got {n_rounds!r}")


def forward_edges(batch: BlockGraphBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(src, dst, stem type at src, stem type at dst)`` of the release's directed junction edges.

    :func:`~gafn_lib.envs.fragment_batch.encode_states` writes each junction bond ``(a, atom_a, b,
    atom_b)`` (``a`` held the stem, ``b`` was attached there) as the edge ``a → b`` followed by
    ``b → a``; the release keeps only ``a → b``: the even-indexed edges (views, no copy)."""
    edges, types = batch.edge_index[:, 0::2], batch.edge_stem_type[0::2]
    return edges[0], edges[1], types[:, 0], types[:, 1]


def rank_one_mean_messages(x: torch.Tensor, src: torch.Tensor, dst: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """NNConv's mean aggregation with rank-one edge weights, without forming them.

    Returns ``(N, H)``: row ``i`` is ``mean_{e: src_e → i} x_{src_e}ᵀ (a_e b_eᵀ) = mean_e (x_{src_e} · a_e) b_e``
    (zeros for a node without incoming edges): one dot product and one scaled vector per edge
    instead of a vector-matrix product with an H×H matrix.

    Args:
        x: (N, H) node states. src, dst: (E,) edge sources and targets.
        a, b: (E, H) the two factors of each edge's weight ``W_e = a_e b_eᵀ``.
    """
    n_nodes = x.shape[0]
    in_degree = torch.zeros(n_nodes, dtype=x.dtype, device=x.device).index_add_(0, dst, torch.ones_like(dst, dtype=x.dtype))
    coef = (x[src] * a).sum(dim=1, keepdim=True) / in_degree.clamp(min=1.0)[dst, None]  # (E, 1)
    return x.new_zeros(n_nodes, b.shape[1]).index_add_(0, dst, coef * b)


def ancestor_classes(batch: BlockGraphBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Nodes grouped by ancestor path, for graphs whose nodes have at most one incoming edge.

    Two nodes are in one class iff they have the same block type, the same incoming edge's stem
    types (none for a first block) and parents in one class — the coarsest such partition, found
    by refining ``(type, in-edge types)`` with the parent's class until the number of classes stops
    growing (at most depth + 1 passes of a 1-D ``torch.unique``).

    Returns:
        ``node_class`` (N,) class of each node (``0 … U-1``); ``rep`` (U,) one node of each class;
        ``parent_class`` (U,) the class of the parent of the class's nodes, -1 for a first block.
    """
    src, dst, type_src, type_dst = forward_edges(batch)
    node_type = batch.node_type
    n_nodes, device = node_type.shape[0], node_type.device
    parent = torch.full((n_nodes,), -1, dtype=torch.long, device=device).index_copy_(0, dst, src)
    n_types = int(torch.cat([type_src, type_dst]).max()) + 2 if dst.numel() else 1
    in_src = torch.zeros(n_nodes, dtype=torch.long, device=device).index_copy_(0, dst, type_src + 1)
    in_dst = torch.zeros(n_nodes, dtype=torch.long, device=device).index_copy_(0, dst, type_dst + 1)
    base = (node_type * n_types + in_src) * n_types + in_dst  # < 2^63 / (N + 1) for this MDP's sizes
    has_parent = parent >= 0
    n_classes, node_class = torch.unique(base, return_inverse=True)
    n_classes = n_classes.numel()
    while True:
        parent_of = torch.where(has_parent, node_class[parent.clamp(min=0)], -1)
        keys, refined = torch.unique(base * (n_nodes + 1) + parent_of + 1, return_inverse=True)
        if keys.numel() == n_classes:
            break
        n_classes, node_class = keys.numel(), refined
    rep = torch.empty(n_classes, dtype=torch.long, device=device).scatter_(0, node_class, torch.arange(n_nodes, device=device))
    parent_class = torch.where(has_parent[rep], node_class[parent[rep].clamp(min=0)], -1)
    return node_class, rep, parent_class


class ReleaseStateEmbedding(nn.Module):
    """The release's block-graph trunk (``StateEmbeddingNet``): node states and the mean-pooled graph
    embedding (see the module docstring for the equations).

    Args:
        n_frags: fragment types (72); one extra id is the empty state's pseudo-node.
        n_stem_types: stem types (the bond-embedding table's size).
        hidden: width ``H`` of every embedding and layer (release 256).
        n_rounds: convolution + GRU rounds, sharing their weights (release 10).
    """

    def __init__(self, n_frags: int, n_stem_types: int, hidden: int = 256, n_rounds: int = 10) -> None:
        super().__init__()
        _check_sizes(hidden, n_rounds)
        self.hidden, self.n_rounds = hidden, n_rounds
        self.block_emb = nn.Embedding(n_frags + 1, hidden)
        self.bond_emb = nn.Embedding(n_stem_types, hidden)
        self.block2emb = nn.Sequential(nn.Linear(hidden, hidden), nn.LeakyReLU(), nn.Linear(hidden, hidden))
        self.conv_root = nn.Linear(hidden, hidden, bias=False)  # Θ: nn.Linear's init is uniform ±1/√H, as NNConv's
        self.conv_bias = nn.Parameter(torch.zeros(hidden))  # β: NNConv initialises its bias to zeros
        self.gru = nn.GRUCell(hidden, hidden)
        #: Compute nodes with equal ancestor paths once (:meth:`unique_node_states`); ``False``
        #: computes every node (:meth:`plain_node_states`): the same function, the benchmark's "before".
        self.share_nodes = True

    @classmethod
    def for_mdp(cls, mdp, hidden: int = 256, n_rounds: int = 10) -> "ReleaseStateEmbedding":
        return cls(mdp.vocab.n_frags, mdp.vocab.n_stem_types, hidden, n_rounds)

    def node_states(self, batch: BlockGraphBatch) -> torch.Tensor:
        """(N, H) node states after ``n_rounds`` rounds."""
        x_unique, node_class = self.unique_node_states(batch)
        return x_unique[node_class]

    def unique_node_states(self, batch: BlockGraphBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x_u (U, H), node_class (N,))``: the final states of the distinct nodes and each node's
        row among them (``node_states = x_u[node_class]``).

        With the release's directed edges every block but the first has exactly one incoming edge,
        so a node's state is a function of its *ancestor path* alone (its block, the bond to its
        parent, its parent's path, … up to the first block): attaching a block changes no other node
        of the molecule. Nodes with equal paths — the shared part of a state, its parents and its
        children in one batch, about 5 of every 6 nodes of a flow-matching batch — are computed once
        (:func:`ancestor_classes`): exact, and 2.2× fewer CPU seconds per training step of the release
        preset than computing every node (:meth:`plain_node_states`). A graph where some node has several incoming edges (not
        one of this MDP's) is computed node by node (:meth:`plain_node_states`)."""
        src, dst, type_src, type_dst = forward_edges(batch)
        n_nodes = batch.node_type.shape[0]
        if not self.share_nodes or bool((torch.bincount(dst, minlength=n_nodes) > 1).any()):
            x = self.plain_node_states(batch)
            return x, torch.arange(n_nodes, device=x.device)
        node_class, rep, parent_class = ancestor_classes(batch)
        x = self.block2emb(self.block_emb(batch.node_type[rep]))
        if self.n_rounds == 0:
            return x, node_class
        child = (parent_class >= 0).nonzero().squeeze(1)  # classes with a parent: one edge each
        parent = parent_class[child]
        in_type = torch.zeros((n_nodes, 2), dtype=torch.long, device=dst.device)
        in_type[dst, 0], in_type[dst, 1] = type_src, type_dst
        in_type = in_type[rep[child]]
        a, b = self.bond_emb(in_type[:, 0]), self.bond_emb(in_type[:, 1])  # (C, H): W_e = a_e b_eᵀ
        for _ in range(self.n_rounds):
            # rank_one_mean_messages with exactly one edge into each child class: the mean is the message
            coef = (x[parent] * a).sum(dim=1, keepdim=True)  # (C, 1): x_j · a_e
            x = self._round(x, x.new_zeros(x.shape).index_copy_(0, child, coef * b))
        return x, node_class

    def _round(self, x: torch.Tensor, agg: torch.Tensor) -> torch.Tensor:
        """One round: ``m = LeakyReLU(agg + Θx + β)``, then ``x ← GRUCell(m, x)`` (``torch.gru_cell``:
        one fused call; a hand-written cell sharing one product for ``Θ`` and ``W_hh`` measured slower)."""
        m = F.leaky_relu(agg + F.linear(x, self.conv_root.weight, self.conv_bias))
        return self.gru(m, x)

    def plain_node_states(self, batch: BlockGraphBatch) -> torch.Tensor:
        """(N, H) node states computed for every node (no sharing): the general NNConv mean over
        any number of incoming edges."""
        x = self.block2emb(self.block_emb(batch.node_type))
        src, dst, type_src, type_dst = forward_edges(batch)
        a, b = self.bond_emb(type_src), self.bond_emb(type_dst)  # (E, H) each: W_e = a_e b_eᵀ
        for _ in range(self.n_rounds):
            x = self._round(x, rank_one_mean_messages(x, src, dst, a, b))
        return x

    def pool(self, batch: BlockGraphBatch, x: torch.Tensor) -> torch.Tensor:
        """(B, H) per-graph mean of the node states ``x``."""
        n_graphs = batch.n_graphs
        count = x.new_zeros(n_graphs).index_add_(0, batch.node_graph, x.new_ones(x.shape[0]))
        return x.new_zeros(n_graphs, self.hidden).index_add_(0, batch.node_graph, x) / count[:, None]

    def forward(self, batch: BlockGraphBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(x_u, node_class, g)``: the distinct nodes' states (U, H), each node's row among them
        (N,) and the graph embeddings (B, H) (see :meth:`unique_node_states`)."""
        x_unique, node_class = self.unique_node_states(batch)
        return x_unique, node_class, self.pool(batch, x_unique[node_class])

    def embed(self, batch: BlockGraphBatch) -> torch.Tensor:
        """(B, H) graph embedding ``g`` (the release's ``StateEmbeddingNet`` output)."""
        return self.forward(batch)[2]


class ReleaseGraphNet(nn.Module):
    """The release's policy network (``GraphAgent``, model version v4) with the interface of
    :class:`~gafn_lib.molecules.policy.BlockGraphPolicy`: ``forward(batch, mask)`` →
    :class:`~gafn_lib.molecules.policy.MolPolicyOutput`, ``embed(batch)`` → ``g``.

    Args:
        n_frags: fragment types (72); one extra id is the empty state's pseudo-node.
        n_stem_types: stem types; one extra id for the empty state's pseudo-stem.
        n_block_types: blocks that can be attached (105): the width of each stem's logits.
        hidden: width ``H`` (release 256).
        n_rounds: convolution + GRU rounds (release 10).
    """

    def __init__(self, n_frags: int, n_stem_types: int, n_block_types: int, hidden: int = 256, n_rounds: int = 10) -> None:
        super().__init__()
        self.hidden, self.n_rounds, self.n_block_types = hidden, n_rounds, n_block_types
        self.trunk = ReleaseStateEmbedding(n_frags, n_stem_types, hidden, n_rounds)
        self.stem_emb = nn.Embedding(n_stem_types + 1, hidden)
        self.stem2pred = nn.Sequential(
            nn.Linear(2 * hidden, hidden), nn.LeakyReLU(), nn.Linear(hidden, hidden), nn.LeakyReLU(), nn.Linear(hidden, n_block_types)
        )
        self.global2pred = nn.Sequential(nn.Linear(hidden, hidden), nn.LeakyReLU(), nn.Linear(hidden, 2))  # [stop, log F(s)]

    @classmethod
    def for_mdp(cls, mdp, hidden: int = 256, n_rounds: int = 10) -> "ReleaseGraphNet":
        v = mdp.vocab
        return cls(v.n_frags, v.n_stem_types, mdp.n_block_types, hidden, n_rounds)

    def embed(self, batch: BlockGraphBatch) -> torch.Tensor:
        """(B, H) graph embedding ``g`` (mean-pooled node states)."""
        return self.trunk.embed(batch)

    #: Sample with an :class:`AncestorPathCache` (:meth:`sampling_cache`); ``False`` computes every
    #: call's nodes afresh: the same draws, the benchmark's "before" (``bench_mols --compare-sampling-cache``).
    cached_sampling = True

    def sampling_cache(self) -> "AncestorPathCache | None":
        """A fresh :class:`AncestorPathCache` of this network's trunk for one sampling pass
        (``forward(batch, mask, cache=...)`` on each iteration's states, without gradients);
        ``None`` when :attr:`cached_sampling` is off."""
        return AncestorPathCache(self.trunk) if self.cached_sampling else None

    def forward(self, batch: BlockGraphBatch, mask: torch.Tensor | None = None, cache: "AncestorPathCache | None" = None) -> MolPolicyOutput:
        """The outputs on ``batch``; with ``cache`` (:meth:`sampling_cache`; no gradients) the node
        states come from it, computing only the ancestor paths it has not seen."""
        if cache is None:
            x_unique, node_class, g = self.trunk(batch)
        else:
            if cache.trunk is not self.trunk:
                raise ValueError("cache belongs to another network: make it with this network's sampling_cache()")
            x_unique, node_class = cache.unique_node_states(batch)
            g = self.trunk.pool(batch, x_unique[node_class])
        # a stem's logits depend on its node's state and its type: each distinct pair is evaluated once
        n_stem_ids = self.stem_emb.num_embeddings
        pairs, stem_row = torch.unique(node_class[batch.stem_node] * n_stem_ids + batch.stem_type, return_inverse=True)
        inputs = torch.cat([x_unique[pairs // n_stem_ids], self.stem_emb(pairs % n_stem_ids)], dim=1)
        stem_logits = self.stem2pred(inputs)[stem_row]  # (S, V)
        mol = self.global2pred(g)  # (B, 2)
        max_stems = None if mask is None else (mask.shape[1] - 1) // self.n_block_types
        logits = flatten_logits(batch, stem_logits, mol[:, 0], max_stems)
        if mask is not None:
            logits = logits.masked_fill(~mask, -torch.inf)
        return MolPolicyOutput(logits=logits, log_flow=mol[:, 1], embedding=g)


class AncestorPathCache:
    """The states, round by round, of every ancestor path met in one sampling pass of a
    :class:`ReleaseStateEmbedding`, so that each call computes only the new paths.

    A node's state after round ``r`` is a function of its ancestor path alone
    (:meth:`ReleaseStateEmbedding.unique_node_states`): ``x⁰ = MLP_in(E_block[type])`` and
    ``xʳ = GRU(LeakyReLU(Θ xʳ⁻¹ + β + (x_parentʳ⁻¹ · a) b), xʳ⁻¹)``. A path is keyed by
    ``(block type, stem types of its in-edge, key of its parent)`` (the parent by its row here), and
    its row holds ``x⁰ … x^R``. While a batch of trajectories is sampled, each iteration's states
    are the last ones plus one block, so a call computes one new path per trajectory (with its
    parent's states of every round read from here) instead of every node of every state: the
    release-preset sampler's trunk goes from about 10 rounds × 25 nodes per call to 10 rounds × 4.
    The gain per training step is small (1.07×, ``bench_mols --compare-sampling-cache``): a round
    over 4 rows still reads the GRU's weights, which is most of its cost at these sizes.

    The outputs are those of :meth:`ReleaseStateEmbedding.unique_node_states` up to float rounding
    (a GRU over 4 rows and over 25 rows may round differently in the last bit): the cache serves
    sampling, where only the drawn actions are kept, never the loss. It is valid while the trunk's
    parameters are unchanged and without gradients; it raises otherwise.
    """

    def __init__(self, trunk: ReleaseStateEmbedding) -> None:
        if not isinstance(trunk, ReleaseStateEmbedding):
            raise TypeError(f"trunk must be a ReleaseStateEmbedding, got {type(trunk).__name__}")
        self.trunk = trunk
        self._rows: dict[tuple[int, int, int, int], int] = {}
        self._states: torch.Tensor | None = None  # (R+1, U, H): every known path's state after each round
        self._versions = self._parameter_versions()

    def _parameter_versions(self) -> tuple[int, ...]:
        return tuple(p._version for p in self.trunk.parameters())

    def __len__(self) -> int:
        """Number of distinct ancestor paths computed so far."""
        return len(self._rows)

    def unique_node_states(self, batch: BlockGraphBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x_u (U, H), node_class (N,))`` as :meth:`ReleaseStateEmbedding.unique_node_states`
        (without gradients), computing only the paths this cache has not met yet."""
        trunk = self.trunk
        if torch.is_grad_enabled() and any(p.requires_grad for p in trunk.parameters()):
            raise RuntimeError("AncestorPathCache serves sampling without gradients: call it under torch.no_grad()")
        if self._parameter_versions() != self._versions:
            raise RuntimeError("the network's parameters changed since this AncestorPathCache was made: "
                               "make a new one (sampling_cache()) for each sampling pass")
        src, dst, type_src, type_dst = forward_edges(batch)
        n_nodes = batch.node_type.shape[0]
        if not trunk.share_nodes or bool((torch.bincount(dst, minlength=n_nodes) > 1).any()):
            return trunk.unique_node_states(batch)  # the general computation (not this MDP's graphs)
        node_class, rep, parent_class = ancestor_classes(batch)
        in_src = torch.full((n_nodes,), -1, dtype=torch.long, device=dst.device).index_copy_(0, dst, type_src)
        in_dst = torch.full((n_nodes,), -1, dtype=torch.long, device=dst.device).index_copy_(0, dst, type_dst)
        types, srcs, dsts = batch.node_type[rep].tolist(), in_src[rep].tolist(), in_dst[rep].tolist()
        parents = parent_class.tolist()
        rows: list[int] = [-1] * len(parents)
        new: list[tuple[int, int, int, int]] = []  # (type, in_src, in_dst, parent row) of the new paths
        pending = list(range(len(parents)))
        while pending:  # parents before children (at most depth + 1 passes)
            left = []
            for u in pending:
                p = parents[u]
                if p >= 0 and rows[p] < 0:
                    left.append(u)
                    continue
                key = (types[u], srcs[u], dsts[u], rows[p] if p >= 0 else -1)
                row = self._rows.get(key)
                if row is None:
                    row = self._rows[key] = len(self._rows)
                    new.append(key)
                rows[u] = row
            pending = left
        if new:
            self._extend(new)
        index = torch.tensor(rows, dtype=torch.long, device=batch.node_type.device)
        return self._states[-1][index], node_class

    def _extend(self, new: list[tuple[int, int, int, int]]) -> None:
        """Compute the states of every round of the ``new`` paths (rows ``U_old …``), in one batch."""
        trunk = self.trunk
        device = trunk.block_emb.weight.device
        old = 0 if self._states is None else self._states.shape[1]
        types = torch.tensor([k[0] for k in new], dtype=torch.long, device=device)
        x = trunk.block2emb(trunk.block_emb(types))  # (K, H)
        rounds = [x]
        child = [i for i, k in enumerate(new) if k[3] >= 0]
        if trunk.n_rounds and child:
            child_t = torch.tensor(child, dtype=torch.long, device=device)
            parent = torch.tensor([new[i][3] for i in child], dtype=torch.long, device=device)
            a = trunk.bond_emb(torch.tensor([new[i][1] for i in child], dtype=torch.long, device=device))
            b = trunk.bond_emb(torch.tensor([new[i][2] for i in child], dtype=torch.long, device=device))
        for r in range(1, trunk.n_rounds + 1):
            agg = x.new_zeros(x.shape)
            if child:
                previous = x if self._states is None else torch.cat([self._states[r - 1], x])  # rows = path rows
                coef = (previous[parent] * a).sum(dim=1, keepdim=True)  # x_parent · a_e
                agg = agg.index_copy_(0, child_t, coef * b)
            x = trunk._round(x, agg)
            rounds.append(x)
        block = torch.stack(rounds)  # (R+1, K, H)
        self._states = block if self._states is None else torch.cat([self._states, block], dim=1)
        assert self._states.shape[1] == old + len(new) == len(self._rows)
