"""The committed run archive (:mod:`gafn_lib.runner.archive`): a sweep's finished runs and
checkpoints copied out of a store and back into a new one, so that a sweep resumes on another
machine exactly where it stopped."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gafn_lib.core.ensemble import EnsembleTrainer, ensemble_id
from gafn_lib.grid.config import GridTrainConfig
from gafn_lib.repro import paths, prefetch
from gafn_lib.runner import ExperimentStore, run_id, run_sweep
from gafn_lib.runner.archive import restore_from_archive, save_to_archive
from gafn_lib.runner.locks import RunLocks
from gafn_lib.runner.store import atomic_torch_save


def tiny(seed: int) -> GridTrainConfig:
    return GridTrainConfig(height=8, n_steps=40, log_every=10, hidden=32, seed=seed)


def checkpointed(store: ExperimentStore, configs, steps: int) -> str:
    """Leave ``store`` as a killed sweep does: the ensemble of ``configs`` checkpointed at ``steps``
    and its members' metadata saying how it was grouped. Returns the ensemble's name."""
    ids = [run_id(c) for c in configs]
    trainer = EnsembleTrainer(configs)
    trainer.train(n_steps=steps, progress=False)
    name = ensemble_id(ids)
    atomic_torch_save(store.checkpoint_path(name), trainer.state_dict())
    for i, rid in enumerate(ids):
        store.write_metadata(rid, {"run_id": rid, "status": "running", "finished": False,
                                   "ensemble": {"id": name, "size": len(ids), "member": i}})
    return name


def test_finished_runs_restored_into_a_new_store_are_not_trained_again(tmp_path):
    configs = [tiny(s) for s in range(2)]
    ids = [run_id(c) for c in configs]
    first = ExperimentStore.open("g", tmp_path / "first")
    archive = ExperimentStore.open("g", tmp_path / "archive")
    new = ExperimentStore.open("g", tmp_path / "new")
    run_sweep("g", configs, results_dir=tmp_path / "first", backend="serial", progress=False)

    saved = save_to_archive(first, archive, ids)
    assert sorted(saved.runs) == sorted(ids) and not saved.checkpoints
    assert save_to_archive(first, archive, ids).runs == []  # already there, same tables
    restored = restore_from_archive(archive, new, ids)
    assert sorted(restored.runs) == sorted(ids)
    for rid in ids:
        assert new.is_complete(rid) and new.damage(rid) is None
        assert new.table_path(rid).read_bytes() == first.table_path(rid).read_bytes()
        assert new.read_artifacts(rid).keys() == first.read_artifacts(rid).keys()
    finished_at = {rid: new.read_metadata(rid)["finished_at"] for rid in ids}
    run_sweep("g", configs, results_dir=tmp_path / "new", backend="serial", progress=False)
    assert {rid: new.read_metadata(rid)["finished_at"] for rid in ids} == finished_at  # cached: nothing retrained
    assert restore_from_archive(archive, new, ids).runs == []  # finished in the store: left alone


def test_a_checkpoint_travels_and_the_sweep_resumes_from_it(tmp_path):
    configs = [tiny(s) for s in range(3)]
    ids = [run_id(c) for c in configs]
    first = ExperimentStore.open("g", tmp_path / "first")
    archive = ExperimentStore.open("g", tmp_path / "archive")
    name = checkpointed(first, configs, steps=20)

    assert save_to_archive(first, archive, ids, max_checkpoint_bytes=None).checkpoints == {name: 20}
    restored = restore_from_archive(archive, ExperimentStore.open("g", tmp_path / "new"), ids)
    assert restored.checkpoints == {name: 20} and restored.runs == []
    # another worker count would group the runs differently: the members' metadata keeps the grouping
    run_sweep("g", configs, results_dir=tmp_path / "new", backend="process", workers=2, progress=False)
    new = ExperimentStore.open("g", tmp_path / "new")
    assert [new.read_metadata(r)["resumed_from_step"] for r in ids] == [20, 20, 20]

    # saving the finished runs replaces the archived checkpoint, which is then stale
    saved = save_to_archive(new, archive, ids, max_checkpoint_bytes=None)
    assert sorted(saved.runs) == sorted(ids) and saved.removed == [name]
    assert not archive.checkpoint_path(name).exists() and all(archive.is_complete(r) for r in ids)


def test_only_a_checkpoint_further_on_replaces_another(tmp_path):
    configs = [tiny(s) for s in range(2)]
    ids = [run_id(c) for c in configs]
    store = ExperimentStore.open("g", tmp_path / "store")
    archive = ExperimentStore.open("g", tmp_path / "archive")
    name = checkpointed(archive, configs, steps=20)
    checkpointed(store, configs, steps=30)

    assert restore_from_archive(archive, store, ids).checkpoints == {}  # the store's is further on
    assert store.checkpoint_step(name) == 30
    assert save_to_archive(store, archive, ids, max_checkpoint_bytes=None).checkpoints == {name: 30}
    assert archive.checkpoint_step(name) == 30
    assert save_to_archive(store, archive, ids, max_checkpoint_bytes=None).checkpoints == {}  # nothing new


def test_a_checkpoint_over_the_size_limit_stays_in_the_store(tmp_path):
    configs = [tiny(s) for s in range(2)]
    ids = [run_id(c) for c in configs]
    store = ExperimentStore.open("g", tmp_path / "store")
    archive = ExperimentStore.open("g", tmp_path / "archive")
    name = checkpointed(store, configs, steps=20)
    size = store.checkpoint_path(name).stat().st_size

    report = save_to_archive(store, archive, ids, max_checkpoint_bytes=size - 1)
    assert report.checkpoints == {} and not archive.checkpoint_path(name).exists()
    assert "over the archive's limit" in report.skipped[name] and "step 20" in report.skipped[name]
    assert "left alone: " + name in report.summary(store.root, archive.root)
    assert save_to_archive(store, archive, ids, max_checkpoint_bytes=size).checkpoints == {name: 20}  # at the limit: copied
    assert save_to_archive(store, archive, ids, max_checkpoint_bytes=None).checkpoints == {}  # already there
    for bad in (-1, 1.5, True, "5MB"):
        with pytest.raises(ValueError, match="max_checkpoint_bytes"):
            save_to_archive(store, archive, ids, max_checkpoint_bytes=bad)


def test_a_checkpoint_larger_than_a_part_travels_in_parts_and_resumes_bit_exactly(tmp_path):
    """A checkpoint over ``part_bytes`` is archived as parts no larger than that plus a manifest; the
    restored file is byte-identical, the resumed sweep reports the step, and once the runs finish the
    parts and the manifest are removed together."""
    configs = [tiny(s) for s in range(2)]
    ids = [run_id(c) for c in configs]
    first = ExperimentStore.open("g", tmp_path / "first")
    archive = ExperimentStore.open("g", tmp_path / "archive")
    name = checkpointed(first, configs, steps=20)
    whole = first.checkpoint_path(name).read_bytes()
    part = len(whole) // 3 + 1  # three parts, the last one shorter

    assert save_to_archive(first, archive, ids, part_bytes=part).checkpoints == {name: 20}
    folder = archive.root / "checkpoints"
    parts = sorted(folder.glob(f"{name}.pt.*"))
    assert [p.name for p in parts] == [f"{name}.pt.{i:03d}" for i in range(3)]
    assert max(p.stat().st_size for p in parts) <= part and not archive.checkpoint_path(name).exists()
    assert (folder / f"{name}.parts.json").exists()
    assert save_to_archive(first, archive, ids, part_bytes=part).checkpoints == {}  # the manifest's step: not newer

    new = ExperimentStore.open("g", tmp_path / "new")
    assert restore_from_archive(archive, new, ids).checkpoints == {name: 20}
    assert new.checkpoint_path(name).read_bytes() == whole
    run_sweep("g", configs, results_dir=tmp_path / "new", backend="serial", progress=False)
    assert [new.read_metadata(r)["resumed_from_step"] for r in ids] == [20, 20]
    finished = save_to_archive(new, archive, ids, part_bytes=part)
    assert finished.removed == [name] and sorted(folder.iterdir()) == []


def test_damaged_or_missing_parts_are_reported_not_restored(tmp_path):
    configs = [tiny(s) for s in range(2)]
    ids = [run_id(c) for c in configs]
    store = ExperimentStore.open("g", tmp_path / "store")
    archive = ExperimentStore.open("g", tmp_path / "archive")
    name = checkpointed(store, configs, steps=20)
    part = store.checkpoint_path(name).stat().st_size // 2 + 1
    save_to_archive(store, archive, ids, part_bytes=part)
    folder = archive.root / "checkpoints"

    first = folder / f"{name}.pt.000"
    good = first.read_bytes()
    first.write_bytes(bytes([good[0] ^ 1]) + good[1:])  # same size, one bit flipped
    fresh = ExperimentStore.open("g", tmp_path / "fresh")
    report = restore_from_archive(archive, fresh, ids)
    assert report.checkpoints == {} and "SHA-256" in report.skipped[name]
    assert not fresh.checkpoint_path(name).exists()

    first.write_bytes(good)
    (folder / f"{name}.pt.001").unlink()
    report = restore_from_archive(archive, fresh, ids)
    assert report.checkpoints == {} and "incomplete" in report.skipped[name]

    # a newer save repairs the archive; a checkpoint that fits one file replaces the parts
    assert save_to_archive(store, archive, ids, part_bytes=part).checkpoints == {name: 20}
    assert restore_from_archive(archive, fresh, ids).checkpoints == {name: 20}
    checkpointed(store, configs, steps=30)
    assert save_to_archive(store, archive, ids).checkpoints == {name: 30}
    assert sorted(p.name for p in folder.iterdir()) == [f"{name}.pt"]
    for bad in (0, -5, 2.5, True):
        with pytest.raises(ValueError, match="part_bytes"):
            save_to_archive(store, archive, ids, part_bytes=bad)


def test_a_damaged_table_is_neither_saved_nor_restored(tmp_path):
    config = tiny(0)
    rid = run_id(config)
    store = ExperimentStore.open("g", tmp_path / "store")
    archive = ExperimentStore.open("g", tmp_path / "archive")
    run_sweep("g", [config], results_dir=tmp_path / "store", backend="serial", progress=False)
    good = store.table_path(rid).read_bytes()
    store.table_path(rid).write_text("run,step\n")
    report = save_to_archive(store, archive, [rid])
    assert report.runs == [] and "SHA-256" in report.skipped[rid]
    assert not archive.metadata_path(rid).exists()

    store.table_path(rid).write_bytes(good)
    save_to_archive(store, archive, [rid])
    archive.table_path(rid).write_text("run,step\n")  # e.g. a bad merge of the committed file
    fresh = ExperimentStore.open("g", tmp_path / "fresh")
    report = restore_from_archive(archive, fresh, [rid])
    assert report.runs == [] and report.skipped[rid].startswith("archived copy:")
    assert not fresh.is_complete(rid)


def test_runs_a_live_sweep_holds_are_not_restored(tmp_path):
    configs = [tiny(s) for s in range(2)]
    ids = [run_id(c) for c in configs]
    archive = ExperimentStore.open("g", tmp_path / "archive")
    store = ExperimentStore.open("g", tmp_path / "store")
    name = checkpointed(archive, configs, steps=20)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        locks = RunLocks(store.root)
        locks.pid = other.pid
        locks.acquire(ids)
        report = restore_from_archive(archive, store, ids)
        assert report.checkpoints == {} and "running now" in report.skipped[name]
        assert not store.checkpoint_path(name).exists()
    finally:
        other.kill()
        other.wait()
    assert restore_from_archive(archive, store, ids).checkpoints == {name: 20}  # its owner is gone


def test_bad_arguments_are_refused(tmp_path):
    store = ExperimentStore.open("g", tmp_path)
    with pytest.raises(ValueError, match="same folder"):
        save_to_archive(store, ExperimentStore.open("g", tmp_path), ["abc"])
    with pytest.raises(ValueError, match="run_ids"):
        restore_from_archive(ExperimentStore.open("g", tmp_path / "a"), store, ["../x"])
    assert restore_from_archive(ExperimentStore.open("g", tmp_path / "missing"), store, ["abc"]).runs == []


def test_only_the_long_profiles_have_an_archive(tmp_path):
    assert paths.run_archive_dir("paper", tmp_path) == tmp_path.resolve() / "data" / "runs" / "paper"
    assert paths.run_archive_dir("long", tmp_path).name == "long"
    assert paths.run_archive_dir("quick", tmp_path) is None and paths.run_archive_dir("smoke", tmp_path) is None


def test_prefetch_cli_saves_and_restores_the_archive(tmp_path, capsys):
    """``--save-archive`` copies the store's runs into the archive; a prefetch into a new store
    restores them first (its --status then shows them finished)."""
    results, archive = tmp_path / "results", tmp_path / "archive"
    configs = prefetch.planned_runs(["05"], "smoke")["gridworld"][:2]
    run_sweep("gridworld", configs, results_dir=results, backend="serial", progress=False)
    assert prefetch.main(["--profile", "smoke", "--only", "05", "--results-dir", str(results),
                          "--archive", str(archive), "--save-archive"]) == 0
    assert "copied 2 finished run(s)" in capsys.readouterr().out
    assert prefetch.main(["--profile", "smoke", "--only", "05", "--results-dir", str(tmp_path / "new"),
                          "--archive", str(archive), "--status"]) == 0
    out = capsys.readouterr().out
    assert "copied 2 finished run(s)" in out and "gridworld: 2 of" in out

    with pytest.raises(SystemExit):
        prefetch.main(["--profile", "smoke", "--only", "05", "--results-dir", str(results), "--save-archive"])
    assert "no run archive" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        prefetch.main(["--profile", "paper", "--only", "05", "--archive", str(archive), "--no-archive"])
    assert "exclude each other" in capsys.readouterr().err
