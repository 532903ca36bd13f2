"""The fragment MDP: sanitisation, parents, masks, encodings."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from rdkit import Chem

from gafn_lib.envs.fragment_batch import encode_states, equivalent_action_mask, flatten_logits, forward_masks
from gafn_lib.envs.fragments import STOP, BlockState, BlockVocab, FragmentMDP
from gafn_lib.molecules.policy import BlockGraphPolicy


@pytest.fixture(scope="module")
def mdp() -> FragmentMDP:
    return FragmentMDP()


@pytest.fixture(scope="module")
def walks(mdp) -> list[list[BlockState]]:
    rng = np.random.default_rng(0)
    return [mdp.random_trajectory(rng) for _ in range(150)]


def test_vocabulary(mdp):
    assert len(mdp.vocab) == 105
    assert mdp.vocab.n_frags == 72
    assert all(len(r) >= 1 for r in mdp.vocab.stems)


def test_random_walk_molecules_sanitise_and_round_trip(mdp, walks):
    for traj in walks:
        assert traj[0] == mdp.initial_state
        assert 1 <= traj[-1].n_blocks <= mdp.max_blocks
        for s in traj[1:]:
            mol = mdp.to_mol(s)
            smi = Chem.MolToSmiles(mol)
            again = Chem.MolFromSmiles(smi)
            assert again is not None, smi
            assert Chem.MolToSmiles(again) == smi == mdp.smiles(s)
            assert len(mdp.stem_atoms(s)) == len(s.stems)
            assert mol.GetNumAtoms() == sum(mdp.vocab.frag_mols[f].GetNumAtoms() for f in s.frags)


def test_termination_rules(mdp, walks):
    for traj in walks:
        last = traj[-1]
        assert mdp.can_stop(last)
        for s in traj[:-1]:
            assert not mdp.is_forced_terminal(s)
            assert mdp.can_stop(s) == (s.n_blocks >= mdp.min_blocks)
    full = walks[0][0]
    while not mdp.is_forced_terminal(full):
        full = mdp.attach(full, 0, 0)  # benzene everywhere: 8 blocks, stems left
    assert full.n_blocks == mdp.max_blocks and full.stems
    with pytest.raises(ValueError, match="forced-terminal"):
        mdp.attach(full, 0, 0)


def test_parents_lead_back_to_the_state(mdp, walks):
    for traj in walks:
        for prev, s in zip(traj[:-1], traj[1:]):
            parents = mdp.parents(s)
            assert parents, s
            key = mdp.stem_smiles(s)
            for parent, action in parents:
                child = mdp.step(parent, action)
                assert mdp.stem_smiles(child) == key
                assert sorted(child.frags) == sorted(s.frags)
            # the state we came from is among the parents
            prev_key = mdp.stem_smiles(prev)
            assert any(mdp.stem_smiles(p) == prev_key and sorted(p.frags) == sorted(prev.frags) for p, _ in parents)
    assert mdp.parents(mdp.initial_state) == []


def test_removable_leaves_match_parents(mdp, walks):
    for traj in walks:
        s = traj[-1]
        leaves = mdp.removable_leaves(s)
        assert leaves
        distinct = {mdp.remove_leaf(s, j)[0] for j in leaves}
        assert distinct == {p for p, _ in mdp.parents(s)}


def test_equivalent_actions_reach_the_same_child(mdp, walks):
    for traj in walks[:40]:
        for s, nxt in zip(traj[:-1], traj[1:]):
            acts = [a for a in range(1, 1 + mdp.n_stems(s) * mdp.n_block_types) if mdp.step(s, a) == nxt]
            assert sorted(mdp.equivalent_actions(s, acts[0])) == sorted(acts)
    # the three pyridine blocks with the same stem set give the same first state
    first = mdp.equivalent_actions(mdp.initial_state, mdp.action_index(0, 9))
    assert sorted(first) == [mdp.action_index(0, b) for b in (9, 10, 11)]


def test_masks_consistent(mdp, walks):
    states = [s for traj in walks[:30] for s in traj]
    mask = forward_masks(mdp, states)
    v = mdp.n_block_types
    for s, row in zip(states, mask):
        assert bool(row[STOP]) == mdp.can_stop(s)
        n_attach = 0 if mdp.is_forced_terminal(s) else mdp.n_stems(s) * v
        assert int(row[1:].sum()) == n_attach
        assert bool(row[1 : 1 + n_attach].all())
        for a in np.flatnonzero(row[1:].numpy())[:5] + 1:
            mdp.step(s, int(a))  # every allowed attachment is legal
    eq = equivalent_action_mask(mdp, states[:5], [1] * 5, mask.shape[1])
    assert bool((eq.sum(1) >= 1).all())


def test_encoding_and_policy_shapes(mdp, walks):
    states = [s for traj in walks[:10] for s in traj]
    batch = encode_states(mdp, states)
    assert batch.n_graphs == len(states)
    assert batch.node_type.shape[0] == sum(max(s.n_blocks, 1) for s in states)
    assert batch.edge_index.shape[1] == 2 * sum(len(s.jbonds) for s in states)
    assert Counter(batch.stem_graph.tolist()) == Counter({g: mdp.n_stems(s) for g, s in enumerate(states)})
    torch.manual_seed(0)
    net = BlockGraphPolicy.for_mdp(mdp, hidden=32, n_rounds=2)
    mask = forward_masks(mdp, states)
    out = net(batch, mask)
    assert out.logits.shape == mask.shape
    assert torch.equal(torch.isfinite(out.logits), mask)
    assert out.log_flow.shape == (len(states),) and out.embedding.shape == (len(states), 32)
    # batching does not change a state's outputs
    single = net(encode_states(mdp, states[3:4]), forward_masks(mdp, states[3:4]))
    width = single.logits.shape[1]
    torch.testing.assert_close(single.logits[0], out.logits[3, :width], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(single.log_flow[0], out.log_flow[3], atol=1e-5, rtol=1e-5)


def test_flatten_logits_pads_with_minus_inf(mdp):
    s1 = mdp.attach(mdp.initial_state, 0, 0)  # benzene: 6 stems
    states = [mdp.initial_state, s1]
    batch = encode_states(mdp, states)
    flat = flatten_logits(batch, torch.zeros(7, mdp.n_block_types), torch.zeros(2))
    assert flat.shape == (2, 1 + 6 * mdp.n_block_types)
    assert int(torch.isfinite(flat[0]).sum()) == 1 + mdp.n_block_types


def test_bad_arguments(mdp, tmp_path):
    with pytest.raises(ValueError, match="max_blocks"):
        FragmentMDP(mdp.vocab, min_blocks=3, max_blocks=2)
    with pytest.raises(ValueError, match="block"):
        mdp.attach(mdp.initial_state, 0, 105)
    with pytest.raises(ValueError, match="pseudo-stem"):
        mdp.attach(mdp.initial_state, 1, 0)
    with pytest.raises(FileNotFoundError, match="missing.json"):
        BlockVocab.load(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="empty state"):
        mdp.to_mol(mdp.initial_state)
