"""The sEH binding proxy of Bengio et al. (2021), an MPNN, re-implemented in plain PyTorch.

Architecture (``MPNNet_v2(dim=64, num_conv_steps=12, num_feat=71)`` of the 2021 code; see
``shared/data/README.md`` for the parameter table and feature layout):

1. ``h⁰ = LeakyReLU(lin0(x))`` on the 71 atom features.
2. Twelve rounds ``t`` of an edge-conditioned convolution (NNConv, mean aggregation) followed by a
   GRU step::

       m_i = LeakyReLU( mean_{j→i} h_j W(e_ij)  +  h_i Θ  +  b )
       h_i ← GRU(m_i, h_i)

   ``W(e) = reshape(Lin(128→4096)(LeakyReLU(Lin(4→128)(e))), 64×64)`` (input rows, output
   columns). Bonds are one-hot (single, double, triple, aromatic), so ``W`` takes only five values
   (four bond types and the all-zero feature of the dummy self-loop given to bond-less molecules);
   they are precomputed once.
3. Set2Set readout (LSTM(128→64), three processing steps), then ``lin3``: a scalar score.

The root weight ``Θ`` is ``params[2]``. ``root_convention="pyg163"`` (the default, the original code
the GAFlowNet paper used) applies it as ``h Θ``; ``"pyg2"`` applies ``h Θᵀ`` as
recursionpharma/gflownet does. ``stem_mask=True`` (default) sets feature column 70 on atoms that
carry an open attachment point, as the original MDP did; ``False`` leaves it 0.

All molecules of a batch go through the network in one pass: their graphs are concatenated and
messages are summed with ``index_add_``. Scores are cached by (canonical SMILES with stem atoms
marked, convention).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from rdkit import Chem, rdBase

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
DEFAULT_PARAMS_PATH = DATA_DIR / "seh_proxy_bengio2021_params.npz"

N_ATOM_FEATURES = 71
HIDDEN = 64
N_CONV_STEPS = 12
N_SET2SET_STEPS = 3
_ATOM_TYPES = {"H": 0, "C": 1, "N": 2, "O": 3, "F": 4}
_BOND_TYPES = {
    Chem.BondType.SINGLE: 0,
    Chem.BondType.DOUBLE: 1,
    Chem.BondType.TRIPLE: 2,
    Chem.BondType.AROMATIC: 3,
}
_NO_BOND = 4  # the all-zero edge feature of the dummy self-loop
_HYBRID_COLUMN = {
    Chem.HybridizationType.SP: 10,
    Chem.HybridizationType.SP2: 11,
    Chem.HybridizationType.SP3: 12,
}
_MAX_ATOMIC_NUM = 56
ROOT_CONVENTIONS = ("pyg163", "pyg2")


def featurise(mol: Chem.Mol, stem_atoms: Sequence[int] = ()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Atom features (n, 71) float32, directed edges (2, E) int64 and edge bond types (E,) int64.

    ``stem_atoms`` are atom indices whose column 70 (stem mask) is set. Each bond gives two
    directed edges; a molecule without bonds gets one self-loop on atom 0 of type ``_NO_BOND``.
    """
    n = mol.GetNumAtoms()
    if n == 0:
        raise ValueError("cannot score a molecule with no atoms")
    x = np.zeros((n, N_ATOM_FEATURES), dtype=np.float32)
    for i, atom in enumerate(mol.GetAtoms()):
        z = atom.GetAtomicNum()
        if not 1 <= z <= _MAX_ATOMIC_NUM:
            raise ValueError(f"atomic number {z} ({atom.GetSymbol()}) is outside the proxy's 1..56 range")
        x[i, _ATOM_TYPES.get(atom.GetSymbol(), 5)] = 1.0
        x[i, 9] = float(atom.GetIsAromatic())
        col = _HYBRID_COLUMN.get(atom.GetHybridization())
        if col is not None:
            x[i, col] = 1.0
        x[i, 13] = atom.GetTotalNumHs()
        x[i, 13 + z] = 1.0
    for a in stem_atoms:
        x[a, 70] = 1.0
    nb = mol.GetNumBonds()
    if nb == 0:
        return x, np.zeros((2, 1), dtype=np.int64), np.full(1, _NO_BOND, dtype=np.int64)
    edges = np.empty((2, 2 * nb), dtype=np.int64)
    types = np.empty(2 * nb, dtype=np.int64)
    for k, bond in enumerate(mol.GetBonds()):
        a, b = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        edges[:, 2 * k] = (a, b)
        edges[:, 2 * k + 1] = (b, a)
        types[2 * k : 2 * k + 2] = _BOND_TYPES.get(bond.GetBondType(), 0)
    return x, edges, types


def parse_smiles(smiles: str) -> tuple[Chem.Mol, list[int]]:
    """Parse a SMILES; atoms with a non-zero atom-map number are returned as stem atoms (and unmapped).

    Raises ``ValueError`` naming the SMILES if RDKit cannot parse or sanitise it.
    """
    if not isinstance(smiles, str) or not smiles:
        raise ValueError(f"invalid SMILES {smiles!r}: expected a non-empty string")
    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError(f"invalid SMILES {smiles!r}: RDKit could not parse or sanitise it")
    stems = [a.GetIdx() for a in mol.GetAtoms() if a.GetAtomMapNum() != 0]
    for i in stems:
        mol.GetAtomWithIdx(i).SetAtomMapNum(0)
    return mol, stems


def stem_key(mol: Chem.Mol, stem_atoms: Sequence[int]) -> str:
    """Canonical SMILES with stem atoms marked by atom map 1 (a cache key invariant to atom order)."""
    if len(stem_atoms) == 0:
        return Chem.MolToSmiles(mol)
    m = Chem.Mol(mol)
    for i in set(stem_atoms):
        m.GetAtomWithIdx(int(i)).SetAtomMapNum(1)
    return Chem.MolToSmiles(m)


class SEHProxy:
    """The pretrained sEH proxy: ``score_smiles`` / ``score_mols`` return the raw proxy score.

    Build it with :meth:`load`. The score is *not* the reward: see :mod:`gafn_lib.envs.mol_reward`.
    """

    def __init__(
        self,
        params: Sequence[np.ndarray],
        root_convention: str = "pyg163",
        stem_mask: bool = True,
        device: str | torch.device = "cpu",
        batch_size: int = 128,
        cache: bool = True,
    ) -> None:
        if root_convention not in ROOT_CONVENTIONS:
            raise ValueError(f"root_convention must be one of {ROOT_CONVENTIONS}, got {root_convention!r}")
        if len(params) != 22:
            raise ValueError(f"expected 22 parameter arrays, got {len(params)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.root_convention = root_convention
        self.stem_mask = bool(stem_mask)
        self.device = torch.device(device)
        self.batch_size = int(batch_size)
        self.cache_enabled = bool(cache)
        self._cache: dict[str, float] = {}
        p = [torch.as_tensor(np.asarray(a, dtype=np.float32), device=self.device) for a in params]
        self.w0, self.b0 = p[0], p[1]
        self.root = p[2] if root_convention == "pyg163" else p[2].T.contiguous()
        self.conv_bias = p[3]
        # The five possible edge matrices W(e) (E-type, in, out), concatenated as (in, 5·out).
        feats = torch.cat([torch.eye(4), torch.zeros(1, 4)]).to(self.device)
        hidden = torch.nn.functional.leaky_relu(feats @ p[4].T + p[5])
        w_edge = (hidden @ p[6].T + p[7]).view(5, HIDDEN, HIDDEN)
        self.w_edge_cat = w_edge.permute(1, 0, 2).reshape(HIDDEN, 5 * HIDDEN).contiguous()
        self.gru = torch.nn.GRUCell(HIDDEN, HIDDEN).to(self.device)
        self.lstm = torch.nn.LSTMCell(2 * HIDDEN, HIDDEN).to(self.device)
        with torch.no_grad():
            for mod, arrays in ((self.gru, p[8:12]), (self.lstm, p[16:20])):
                mod.weight_ih.copy_(arrays[0])
                mod.weight_hh.copy_(arrays[1])
                mod.bias_ih.copy_(arrays[2])
                mod.bias_hh.copy_(arrays[3])
        self.gru.requires_grad_(False)
        self.lstm.requires_grad_(False)
        self.w3, self.b3 = p[20], p[21]

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        root_convention: str = "pyg163",
        stem_mask: bool = True,
        device: str | torch.device = "cpu",
        batch_size: int = 128,
        cache: bool = True,
    ) -> "SEHProxy":
        """Load the 22 arrays ``p00..p21`` of the ``.npz`` (default ``data/seh_proxy_bengio2021_params.npz``)."""
        path = Path(path) if path is not None else DEFAULT_PARAMS_PATH
        if not path.is_file():
            raise FileNotFoundError(
                f"sEH proxy parameters not found at {path}. Copy seh_proxy_bengio2021_params.npz from the "
                "project's shared data folder (shared/data/) into data/, see data/README.md."
            )
        with np.load(path, allow_pickle=False) as npz:
            names = sorted(npz.files)
            expected = [f"p{i:02d}" for i in range(22)]
            if names != expected:
                raise ValueError(f"{path}: expected arrays {expected[0]}..{expected[-1]}, got {names}")
            params = [npz[k] for k in expected]
        return cls(params, root_convention, stem_mask, device, batch_size, cache)

    # ------------------------------------------------------------------ forward
    @torch.no_grad()
    def _forward(self, graphs: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> torch.Tensor:
        """Scores (B,) of a list of featurised graphs, in one pass over their disjoint union."""
        sizes = [g[0].shape[0] for g in graphs]
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        x = torch.from_numpy(np.concatenate([g[0] for g in graphs])).to(self.device)
        edges = torch.from_numpy(np.concatenate([g[1] + o for g, o in zip(graphs, offsets)], axis=1)).to(self.device)
        etype = torch.from_numpy(np.concatenate([g[2] for g in graphs])).to(self.device)
        batch = torch.repeat_interleave(torch.arange(len(graphs), device=self.device), torch.tensor(sizes, device=self.device))
        n, n_graphs = x.shape[0], len(graphs)
        src, dst = edges[0], edges[1]
        deg = torch.zeros(n, device=self.device).index_add_(0, dst, torch.ones_like(dst, dtype=torch.float32))
        inv_deg = (1.0 / deg.clamp(min=1.0)).unsqueeze(1)
        leaky = torch.nn.functional.leaky_relu

        h = leaky(x @ self.w0.T + self.b0)  # (N, 64)
        for _ in range(N_CONV_STEPS):
            xw = (h @ self.w_edge_cat).view(n, 5, HIDDEN)  # h_j W(e) for every edge type
            msg = xw[src, etype]  # (E, 64)
            agg = torch.zeros_like(h).index_add_(0, dst, msg) * inv_deg
            m = leaky(agg + h @ self.root + self.conv_bias)
            h = self.gru(m, h)

        # Set2Set: q_star (B, 128); attention softmax over the atoms of each graph.
        q_star = h.new_zeros(n_graphs, 2 * HIDDEN)
        hx = h.new_zeros(n_graphs, HIDDEN)
        cx = h.new_zeros(n_graphs, HIDDEN)
        for _ in range(N_SET2SET_STEPS):
            hx, cx = self.lstm(q_star, (hx, cx))
            e = (h * hx[batch]).sum(dim=1)  # (N,)
            e_max = torch.full((n_graphs,), -torch.inf, device=self.device).scatter_reduce(0, batch, e, "amax")
            a = torch.exp(e - e_max[batch])
            a = a / torch.zeros(n_graphs, device=self.device).index_add_(0, batch, a)[batch]
            r = torch.zeros(n_graphs, HIDDEN, device=self.device).index_add_(0, batch, a.unsqueeze(1) * h)
            q_star = torch.cat([hx, r], dim=1)
        return (q_star @ self.w3.T + self.b3).squeeze(1)

    # ------------------------------------------------------------------ public API
    def score_mols(self, mols: Sequence[Chem.Mol], stem_atoms: Sequence[Sequence[int]] | None = None) -> np.ndarray:
        """Proxy scores (float64 array of length ``len(mols)``) of sanitised RDKit molecules.

        ``stem_atoms[i]`` lists the atoms of ``mols[i]`` that carry an open stem (used only when
        ``stem_mask`` is on; repeated indices are fine). Batched in chunks of ``batch_size``.
        """
        if stem_atoms is None:
            stem_atoms = [()] * len(mols)
        if len(stem_atoms) != len(mols):
            raise ValueError(f"stem_atoms has {len(stem_atoms)} entries for {len(mols)} molecules")
        out = np.empty(len(mols), dtype=np.float64)
        todo: list[tuple[int, str | None]] = []
        for i, (mol, stems) in enumerate(zip(mols, stem_atoms)):
            if mol is None:
                raise ValueError(f"molecule {i} is None")
            stems = stems if self.stem_mask else ()
            key = stem_key(mol, stems) if self.cache_enabled else None
            if key is not None and key in self._cache:
                out[i] = self._cache[key]
            else:
                todo.append((i, key))
        for start in range(0, len(todo), self.batch_size):
            chunk = todo[start : start + self.batch_size]
            graphs = [featurise(mols[i], stem_atoms[i] if self.stem_mask else ()) for i, _ in chunk]
            scores = self._forward(graphs).cpu().numpy().astype(np.float64)
            for (i, key), s in zip(chunk, scores):
                out[i] = s
                if key is not None:
                    self._cache[key] = float(s)
        return out

    def score_smiles(self, smiles: Sequence[str], stem_atoms: Sequence[Sequence[int]] | None = None) -> np.ndarray:
        """Proxy scores of SMILES strings.

        Stems come from ``stem_atoms`` (atom indices in each SMILES' parse order) when given, else
        from atom-map numbers: every mapped atom is a stem, and maps are removed before scoring.
        A SMILES that RDKit cannot parse raises ``ValueError`` naming it.
        """
        if isinstance(smiles, str):
            raise ValueError("score_smiles expects a list of SMILES, got a single string")
        if stem_atoms is not None and len(stem_atoms) != len(smiles):
            raise ValueError(f"stem_atoms has {len(stem_atoms)} entries for {len(smiles)} SMILES")
        mols, stems = [], []
        for k, s in enumerate(smiles):
            mol, mapped = parse_smiles(s)
            mols.append(mol)
            stems.append(list(stem_atoms[k]) if stem_atoms is not None else mapped)
        return self.score_mols(mols, stems)

    def clear_cache(self) -> None:
        self._cache.clear()

    @property
    def cache_size(self) -> int:
        return len(self._cache)


def benchmark_proxy(mols: Sequence[Chem.Mol], stem_atoms: Sequence[Sequence[int]], proxy: SEHProxy) -> float:
    """Molecules per second of ``proxy.score_mols`` (featurisation + forward), cache disabled."""
    was = proxy.cache_enabled
    proxy.cache_enabled = False
    try:
        t0 = time.perf_counter()
        proxy.score_mols(mols, stem_atoms)
        return len(mols) / (time.perf_counter() - t0)
    finally:
        proxy.cache_enabled = was
