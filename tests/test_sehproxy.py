"""Golden-output tests of the sEH proxy port (both weight conventions, with and without stem mask)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from gafn_lib.envs.sehproxy import DATA_DIR, SEHProxy, parse_smiles

TOL = 1e-4


def _rows(name: str) -> list[dict[str, str]]:
    with open(DATA_DIR / name, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def proxies() -> dict[tuple[str, bool], SEHProxy]:
    return {
        (conv, stem): SEHProxy.load(root_convention=conv, stem_mask=stem)
        for conv in ("pyg163", "pyg2")
        for stem in (True, False)
    }


@pytest.mark.parametrize(
    ("convention", "column"), [("pyg163", "score_pyg163_root"), ("pyg2", "score_pyg2_lin_recursion")]
)
def test_golden_scores_both_conventions(proxies, convention, column):
    rows = _rows("seh_proxy_reference_scores.csv")
    scores = proxies[(convention, False)].score_smiles([r["smiles"] for r in rows])
    ref = np.array([float(r[column]) for r in rows])
    assert np.abs(scores - ref).max() < TOL


@pytest.mark.parametrize(("stem_mask", "column"), [(True, "score_stem_mask"), (False, "score_no_stem")])
def test_golden_scores_with_stems(proxies, stem_mask, column):
    rows = _rows("seh_proxy_reference_scores_stems.csv")
    proxy = proxies[("pyg163", stem_mask)]
    ref = np.array([float(r[column]) for r in rows])
    # stems read from atom maps
    assert np.abs(proxy.score_smiles([r["mapped_smiles"] for r in rows]) - ref).max() < TOL
    # stems given explicitly as atom indices of the unmapped parse
    mols_stems = [parse_smiles(r["mapped_smiles"]) for r in rows]
    scores = proxy.score_mols([m for m, _ in mols_stems], [s for _, s in mols_stems])
    assert np.abs(scores - ref).max() < TOL
    if not stem_mask:
        assert np.abs(proxy.score_smiles([r["smiles"] for r in rows]) - ref).max() < TOL


def test_default_is_original_orientation_with_stem_mask():
    proxy = SEHProxy.load()
    assert proxy.root_convention == "pyg163" and proxy.stem_mask


def test_cache_and_batching_do_not_change_scores(proxies):
    rows = _rows("seh_proxy_reference_scores.csv")
    smiles = [r["smiles"] for r in rows]
    proxy = SEHProxy.load(stem_mask=False, batch_size=3)
    first = proxy.score_smiles(smiles)
    assert proxy.cache_size == len(set(smiles))  # one entry per unique molecule
    again = proxy.score_smiles(smiles[::-1])[::-1]
    np.testing.assert_allclose(first, again, atol=1e-6)
    np.testing.assert_allclose(first, proxies[("pyg163", False)].score_smiles(smiles), atol=1e-5)


def test_bad_smiles_raises_value_error_naming_it(proxies):
    with pytest.raises(ValueError, match="C1CC\\(N"):
        proxies[("pyg163", True)].score_smiles(["CCO", "C1CC(N"])


def test_missing_file_raises_file_not_found(tmp_path: Path):
    missing = tmp_path / "nope.npz"
    with pytest.raises(FileNotFoundError, match="nope.npz.*shared"):
        SEHProxy.load(missing)


def test_bad_convention_raises():
    with pytest.raises(ValueError, match="root_convention"):
        SEHProxy.load(root_convention="pyg3")


def test_mdp_molecules_score_like_their_stem_marked_smiles(proxies):
    """score_mols on MDP molecules == score_smiles on the atom-map-marked SMILES (same features)."""
    from gafn_lib.envs.fragments import FragmentMDP

    mdp = FragmentMDP()
    rng = np.random.default_rng(5)
    states = [mdp.random_trajectory(rng)[-1] for _ in range(40)]
    proxy = SEHProxy.load(cache=False)
    direct = proxy.score_mols([mdp.to_mol(s) for s in states], [mdp.stem_atoms(s) for s in states])
    via_smiles = proxy.score_smiles([mdp.stem_smiles(s) for s in states])
    assert np.abs(direct - via_smiles).max() < 1e-4
