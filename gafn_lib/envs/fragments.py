"""The fragment-based molecule MDP of Bengio et al. (2021), with the 105-block vocabulary.

A state is a tree of *blocks* (fragments of ``blocks_PDB_105.json``) joined by single bonds at
*stems* (attachment atoms):

- the empty state ``s_0`` has one pseudo-stem; the first action places a block ``b`` there, and
  every entry of ``block_r[b]`` becomes an open stem;
- later actions attach block ``b`` at open stem ``k``: a single bond joins the stem atom to atom
  ``block_r[b][0]`` of the new block, and ``block_r[b][1:]`` become new open stems (a repeated atom
  index means several stems on that atom);
- *stop* is allowed once ``n_blocks ≥ min_blocks``. Termination is *forced* (only *stop* is left)
  at ``n_blocks == max_blocks`` or when no open stem is left.

Actions are integers: ``0`` is *stop*, ``1 + k·V + b`` attaches block ``b`` at stem ``k``
(``V = 105``). Open stems are kept sorted by (block, atom), so ``k`` is well defined.

Backward moves remove a *leaf* block (one junction). Removing leaf ``j`` restores the stem it used
on its neighbour; the forward action that undoes it attaches a block ``b'`` with the same SMILES
whose ``block_r[b'][0]`` is (a symmetry image of) the junction atom of ``j`` and whose other stems
match the leaf's open stems; a leaf with no such ``b'`` is not removable. :meth:`parents` lists
every forward edge into a state: all equivalent blocks ``b'`` and all copies of a repeated stem, so
that flow-matching in-flows count each labelled edge once. Symmetries of the rest of the molecule
(two symmetric stems giving the same molecule) are not merged, as in Bengio et al. (2021).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from rdkit import Chem

from gafn_lib.envs.sehproxy import DATA_DIR

DEFAULT_BLOCKS_PATH = DATA_DIR / "blocks_PDB_105.json"
STOP = 0

Stem = tuple[int, int]  # (block position in the state, atom index in that block)
JBond = tuple[int, int, int, int]  # (block_a, atom_a, block_b, atom_b)


@dataclass(frozen=True, slots=True)
class BlockState:
    """A partial molecule: fragment ids in placement order, junction bonds and sorted open stems.

    ``frags`` are ids of the 72 unique fragments (not of the 105 blocks, which also fix the
    attachment atoms): the open stems are stored explicitly, so a state does not depend on which
    duplicate block built it.
    """

    frags: tuple[int, ...] = ()
    jbonds: tuple[JBond, ...] = ()
    stems: tuple[Stem, ...] = ()

    @property
    def n_blocks(self) -> int:
        return len(self.frags)


def _marked_smiles(smiles: str, attach_atom: int | None, stems: list[int]) -> str:
    """Canonical SMILES of a block with its attach atom and stem counts written as atom maps."""
    mol = Chem.MolFromSmiles(smiles)
    counts = Counter(stems)
    for atom in mol.GetAtoms():
        i = atom.GetIdx()
        atom.SetAtomMapNum(100 * (i == attach_atom) + counts.get(i, 0))
    return Chem.MolToSmiles(mol)


@dataclass
class BlockVocab:
    """The fragment vocabulary and the symmetry tables derived from it."""

    names: list[str]
    smiles: list[str]
    stems: list[tuple[int, ...]]
    frag_of_block: list[int] = field(repr=False)  # block id → fragment id (unique SMILES)
    frag_smiles: list[str] = field(repr=False)
    frag_mols: list[Chem.Mol] = field(repr=False)
    stem_type: dict[tuple[str, int], int] = field(repr=False)  # (block SMILES, atom) → stem-type id
    attach_equiv: list[tuple[int, ...]] = field(repr=False)  # blocks giving the same child at a stem
    first_equiv: list[tuple[int, ...]] = field(repr=False)  # blocks giving the same first-block state
    attach_blocks: dict[str, tuple[int, ...]] = field(repr=False)  # attach key → blocks
    first_key_blocks: dict[str, tuple[int, ...]] = field(repr=False)  # first-block key → blocks
    _undo_memo: dict = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, path: str | Path | None = None) -> "BlockVocab":
        path = Path(path) if path is not None else DEFAULT_BLOCKS_PATH
        if not path.is_file():
            raise FileNotFoundError(
                f"block vocabulary not found at {path}. Copy blocks_PDB_105.json from the project's "
                "shared data folder (shared/data/) into data/, see data/README.md."
            )
        raw = json.loads(path.read_text())
        keys = sorted(raw["block_name"], key=int)
        names = [raw["block_name"][k] for k in keys]
        smiles = [raw["block_smi"][k] for k in keys]
        stems = [tuple(int(a) for a in raw["block_r"][k]) for k in keys]
        frag_smiles = list(dict.fromkeys(smiles))
        frag_of_block = [frag_smiles.index(s) for s in smiles]
        frag_mols = []
        for s in frag_smiles:
            m = Chem.MolFromSmiles(s)
            if m is None:
                raise ValueError(f"{path}: block SMILES {s!r} does not parse")
            frag_mols.append(m)
        stem_type: dict[tuple[str, int], int] = {}
        for s, r in zip(smiles, stems):
            for a in r:
                stem_type.setdefault((s, a), len(stem_type))
        attach_key = [_marked_smiles(s, r[0], list(r[1:])) for s, r in zip(smiles, stems)]
        first_key = [_marked_smiles(s, None, list(r)) for s, r in zip(smiles, stems)]
        n = len(smiles)
        attach_equiv = [tuple(j for j in range(n) if attach_key[j] == attach_key[b]) for b in range(n)]
        first_equiv = [tuple(j for j in range(n) if first_key[j] == first_key[b]) for b in range(n)]
        by_key: dict[str, list[int]] = {}
        for j, k in enumerate(attach_key):
            by_key.setdefault(k, []).append(j)
        attach_blocks = {k: tuple(v) for k, v in by_key.items()}
        first_key_blocks: dict[str, tuple[int, ...]] = {}
        for j, k in enumerate(first_key):
            first_key_blocks[k] = first_key_blocks.get(k, ()) + (j,)
        return cls(
            names, smiles, stems, frag_of_block, frag_smiles, frag_mols, stem_type,
            attach_equiv, first_equiv, attach_blocks, first_key_blocks,
        )

    def first_blocks(self, frag: int, open_stems: tuple[int, ...]) -> tuple[int, ...]:
        """Blocks that, placed first, give fragment ``frag`` with exactly ``open_stems`` open."""
        return self.first_key_blocks.get(_marked_smiles(self.frag_smiles[frag], None, list(open_stems)), ())

    def leaf_undo(self, frag: int, junction_atom: int, open_stems: tuple[int, ...]) -> tuple[int, ...]:
        """Blocks that, attached by ``block_r[0]``, give fragment ``frag`` joined at ``junction_atom``
        with ``open_stems`` still open (up to the fragment's symmetry); memoised."""
        key = (frag, junction_atom, open_stems)
        out = self._undo_memo.get(key)
        if out is None:
            marked = _marked_smiles(self.frag_smiles[frag], junction_atom, list(open_stems))
            out = self._undo_memo[key] = self.attach_blocks.get(marked, ())
        return out

    def __len__(self) -> int:
        return len(self.smiles)

    @property
    def n_stem_types(self) -> int:
        return len(self.stem_type)

    @property
    def n_frags(self) -> int:
        return len(self.frag_smiles)


class FragmentMDP:
    """States, actions, parents and molecules of the block MDP (see the module docstring)."""

    def __init__(self, vocab: BlockVocab | None = None, min_blocks: int = 2, max_blocks: int = 8) -> None:
        if not isinstance(min_blocks, int) or min_blocks < 1:
            raise ValueError(f"min_blocks must be an integer >= 1, got {min_blocks!r}")
        if not isinstance(max_blocks, int) or max_blocks < min_blocks:
            raise ValueError(f"max_blocks must be an integer >= min_blocks={min_blocks}, got {max_blocks!r}")
        self.vocab = vocab if vocab is not None else BlockVocab.load()
        self.min_blocks = min_blocks
        self.max_blocks = max_blocks
        self.n_block_types = len(self.vocab)
        self._mol_cache: dict[BlockState, Chem.Mol] = {}
        self._parents_cache: dict[BlockState, list[tuple[BlockState, int]]] = {}

    # ------------------------------------------------------------------ actions
    @cached_property
    def initial_state(self) -> BlockState:
        return BlockState()

    def n_stems(self, state: BlockState) -> int:
        """Open stems; the empty state has one pseudo-stem."""
        return 1 if state.n_blocks == 0 else len(state.stems)

    def is_forced_terminal(self, state: BlockState) -> bool:
        """Only *stop* is left: ``max_blocks`` reached, or no open stem on a non-empty state."""
        return state.n_blocks >= self.max_blocks or (state.n_blocks > 0 and not state.stems)

    def can_stop(self, state: BlockState) -> bool:
        return state.n_blocks >= self.min_blocks or self.is_forced_terminal(state)

    def action_index(self, stem: int, block: int) -> int:
        return 1 + stem * self.n_block_types + block

    def decode_action(self, action: int) -> tuple[int, int]:
        """``(stem, block)`` of a non-stop action index."""
        if action < 1:
            raise ValueError(f"action {action} is stop, not an attachment")
        return divmod(action - 1, self.n_block_types)

    def attach(self, state: BlockState, stem: int, block: int) -> BlockState:
        """The state after attaching ``block`` at open stem ``stem``."""
        if not 0 <= block < self.n_block_types:
            raise ValueError(f"block must be in 0..{self.n_block_types - 1}, got {block}")
        if self.is_forced_terminal(state):
            raise ValueError("cannot attach to a forced-terminal state")
        r = self.vocab.stems[block]
        if state.n_blocks == 0:
            if stem != 0:
                raise ValueError(f"the empty state has one pseudo-stem 0, got stem {stem}")
            return BlockState((self.vocab.frag_of_block[block],), (), tuple(sorted((0, a) for a in r)))
        if not 0 <= stem < len(state.stems):
            raise ValueError(f"stem must be in 0..{len(state.stems) - 1}, got {stem}")
        new = state.n_blocks
        sb, sa = state.stems[stem]
        stems = state.stems[:stem] + state.stems[stem + 1 :] + tuple((new, a) for a in r[1:])
        frags = state.frags + (self.vocab.frag_of_block[block],)
        return BlockState(frags, state.jbonds + ((sb, sa, new, r[0]),), tuple(sorted(stems)))

    def step(self, state: BlockState, action: int) -> BlockState:
        """Apply a non-stop action index."""
        return self.attach(state, *self.decode_action(action))

    def equivalent_actions(self, state: BlockState, action: int) -> list[int]:
        """All action indices whose child is identical to that of ``action`` (same labelled state).

        Used to turn a sampled action into ``P_F(s'|s) = Σ_{a: T(s,a)=s'} π(a|s)``.
        """
        if action == STOP:
            return [STOP]
        stem, block = self.decode_action(action)
        if state.n_blocks == 0:
            return [self.action_index(0, b) for b in self.vocab.first_equiv[block]]
        target = state.stems[stem]
        stems = [k for k, s in enumerate(state.stems) if s == target]
        return [self.action_index(k, b) for k in stems for b in self.vocab.attach_equiv[block]]

    # ------------------------------------------------------------------ backward moves
    def _undo_actions(self, state: BlockState, leaf: int) -> tuple[BlockState, list[int]]:
        """Parent without ``leaf`` and the forward actions rebuilding ``state`` (``[]`` if none)."""
        leaf_stems = tuple(a for b, a in state.stems if b == leaf)
        if state.n_blocks == 1:
            return BlockState(), [self.action_index(0, e) for e in self.vocab.first_blocks(state.frags[0], leaf_stems)]
        bonds = [jb for jb in state.jbonds if leaf in (jb[0], jb[2])]
        if len(bonds) != 1:
            raise ValueError(f"block {leaf} is not a leaf (it has {len(bonds)} junctions)")
        a, aa, b, ba = bonds[0]
        (nb, na), leaf_atom = ((a, aa), ba) if b == leaf else ((b, ba), aa)
        undo = self.vocab.leaf_undo(state.frags[leaf], leaf_atom, leaf_stems)

        def reindex(i: int) -> int:
            return i - (i > leaf)

        jbonds = tuple((reindex(p), pa, reindex(q), qa) for p, pa, q, qa in state.jbonds if leaf not in (p, q))
        restored = (reindex(nb), na)
        stems = tuple(sorted([(reindex(p), pa) for p, pa in state.stems if p != leaf] + [restored]))
        parent = BlockState(state.frags[:leaf] + state.frags[leaf + 1 :], jbonds, stems)
        slots = [k for k, s in enumerate(stems) if s == restored]
        return parent, [self.action_index(k, e) for k in slots for e in undo]

    def removable_leaves(self, state: BlockState) -> list[int]:
        """Blocks whose removal is a backward move: leaves (one junction) that some block re-attaches.

        A uniform backward policy picks one of these: ``P_B(s|s') = 1 / len(removable_leaves(s'))``.
        """
        if state.n_blocks <= 1:
            return list(range(state.n_blocks))
        degree = Counter(j for a, _, b, _ in state.jbonds for j in (a, b))
        return [j for j in range(state.n_blocks) if degree[j] == 1 and self._undo_actions(state, j)[1]]

    def remove_leaf(self, state: BlockState, leaf: int) -> tuple[BlockState, list[int]]:
        """The parent without block ``leaf`` and the forward actions that rebuild ``state`` from it."""
        if not 0 <= leaf < state.n_blocks:
            raise ValueError(f"leaf must be in 0..{state.n_blocks - 1}, got {leaf}")
        parent, actions = self._undo_actions(state, leaf)
        if not actions:
            raise ValueError(f"block {leaf} cannot be removed: no block re-attaches it with the same stems")
        return parent, actions

    def parents(self, state: BlockState) -> list[tuple[BlockState, int]]:
        """Every forward edge ``(parent, action)`` into ``state`` (empty list for ``s_0``).

        Memoised by state (computed once per distinct state; do not modify the returned list).
        """
        out = self._parents_cache.get(state)
        if out is not None:
            return out
        out = []
        degree = Counter(j for a, _, b, _ in state.jbonds for j in (a, b))
        for leaf in range(state.n_blocks):
            if state.n_blocks == 1 or degree[leaf] == 1:
                parent, actions = self._undo_actions(state, leaf)
                out.extend((parent, act) for act in actions)
        if len(self._parents_cache) > 200_000:
            self._parents_cache.clear()
        self._parents_cache[state] = out
        return out

    # ------------------------------------------------------------------ chemistry
    def to_mol(self, state: BlockState) -> Chem.Mol:
        """The sanitised RDKit molecule of a non-empty state (cached; do not modify it)."""
        mol = self._mol_cache.get(state)
        if mol is not None:
            return mol
        if state.n_blocks == 0:
            raise ValueError("the empty state has no molecule")
        offsets = self.atom_offsets(state)
        combined = self.vocab.frag_mols[state.frags[0]]
        for f in state.frags[1:]:
            combined = Chem.CombineMols(combined, self.vocab.frag_mols[f])
        rw = Chem.RWMol(combined)
        for a, aa, b, ba in state.jbonds:
            i, j = offsets[a] + aa, offsets[b] + ba
            rw.AddBond(i, j, Chem.BondType.SINGLE)
            for k in (i, j):
                atom = rw.GetAtomWithIdx(k)
                if atom.GetNumExplicitHs() > 0:
                    atom.SetNumExplicitHs(atom.GetNumExplicitHs() - 1)
        mol = rw.GetMol()
        Chem.SanitizeMol(mol)
        if len(self._mol_cache) > 100_000:
            self._mol_cache.clear()
        self._mol_cache[state] = mol
        return mol

    def atom_offsets(self, state: BlockState) -> list[int]:
        offsets, total = [], 0
        for f in state.frags:
            offsets.append(total)
            total += self.vocab.frag_mols[f].GetNumAtoms()
        return offsets

    def stem_atoms(self, state: BlockState) -> list[int]:
        """Atom indices (in :meth:`to_mol`) of the open stems, repeated for multiple stems."""
        offsets = self.atom_offsets(state)
        return [offsets[b] + a for b, a in state.stems]

    def smiles(self, state: BlockState) -> str:
        """Canonical SMILES of the molecule (no stem marks)."""
        return Chem.MolToSmiles(self.to_mol(state))

    def stem_smiles(self, state: BlockState) -> str:
        """Canonical SMILES with each atom's open-stem count as its atom-map number (a state key)."""
        if state.n_blocks == 0:
            return ""
        mol = Chem.Mol(self.to_mol(state))
        for atom_idx, count in Counter(self.stem_atoms(state)).items():
            mol.GetAtomWithIdx(atom_idx).SetAtomMapNum(count)
        return Chem.MolToSmiles(mol)

    def random_trajectory(self, rng, stop_prob: float = 0.2) -> list[BlockState]:
        """States ``s_0 … s_n`` of a uniform random walk (stop with ``stop_prob`` once allowed)."""
        states = [self.initial_state]
        s = states[0]
        while not self.is_forced_terminal(s):
            if self.can_stop(s) and rng.random() < stop_prob:
                break
            s = self.attach(s, int(rng.integers(self.n_stems(s))), int(rng.integers(self.n_block_types)))
            states.append(s)
        return states
