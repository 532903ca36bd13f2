"""Where a sweep stands without running it (:func:`gafn_lib.runner.status.sweep_status`)."""

from __future__ import annotations

import pytest

from gafn_lib.core.ensemble import EnsembleTrainer
from gafn_lib.grid.config import GridTrainConfig
from gafn_lib.runner import ExperimentStore, run_id, run_sweep
from gafn_lib.runner.status import STATUS_COLUMNS, summarise_configs, sweep_status
from gafn_lib.runner.store import atomic_torch_save


def tiny(seed: int) -> GridTrainConfig:
    return GridTrainConfig(height=8, n_steps=40, log_every=10, hidden=32, seed=seed)


def test_status_finds_the_checkpoint_the_sweep_resumes_from(tmp_path):
    configs = [tiny(s) for s in range(3)]
    before = sweep_status("st", configs, results_dir=tmp_path, workers=1)
    assert list(before.columns) == list(STATUS_COLUMNS)
    assert before[["runs", "status", "step", "steps_planned"]].values.tolist() == [[3, "not started", 0, 40]]
    assert before["task"][0].startswith("ens-")

    # train the ensemble 20 of its 40 steps and checkpoint it under the name the status gives
    trainer = EnsembleTrainer(configs)
    trainer.train(n_steps=20, progress=False)
    store = ExperimentStore.open("st", tmp_path)
    atomic_torch_save(store.checkpoint_path(before["task"][0]), trainer.state_dict())
    middle = sweep_status("st", configs, results_dir=tmp_path, workers=1)
    assert middle[["status", "step"]].values.tolist() == [["checkpointed", 20]]

    # the sweep resumes from exactly that checkpoint
    run_sweep("st", configs, results_dir=tmp_path, backend="serial", progress=False)
    assert {store.read_metadata(run_id(c))["resumed_from_step"] for c in configs} == {20}
    after = sweep_status("st", configs, results_dir=tmp_path, workers=1)
    assert after[["task", "runs", "status", "step"]].values.tolist() == [["(finished)", 3, "finished", 40]]
    assert "seed 0–2" in after["what"][0]

    # a finished run whose table is damaged is pending again (the sweep would recompute it)
    store.table_path(run_id(configs[1])).write_text("run,step\n")
    damaged = sweep_status("st", configs, results_dir=tmp_path, workers=1)
    assert damaged[["task", "runs", "status"]].values.tolist() == [["(finished)", 2, "finished"], [run_id(configs[1]), 1, "not started"]]


def test_summary_lists_the_distinct_values():
    plain = GridTrainConfig(height=8, n_steps=40, augment="none", intrinsic="none", seed=0)
    text = summarise_configs([plain, GridTrainConfig(height=8, n_steps=40, eta=0.5, augment="joint", intrinsic="rnd", seed=1)])
    assert text.startswith("GridTrainConfig: height 8;")
    assert "augment joint/none" in text and "seed 0/1" in text and "eta 0/0.5" in text


def test_summary_writes_consecutive_integers_as_ranges():
    from gafn_lib.runner.describe import _integer_runs
    assert _integer_runs([0, 1, 2, 3, 7]) == "0–3/7"
    assert _integer_runs([0, 1, 5, 6, 7, 9]) == "0/1/5–7/9"
    assert _integer_runs([4]) == "4" and _integer_runs([]) == ""
    seeds = [GridTrainConfig(height=h, n_steps=40, seed=s) for s in range(10) for h in (8, 16)]
    text = summarise_configs(seeds)
    assert "seed 0–9" in text and "height 8/16" in text


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match="configs is empty"):
        sweep_status("st", [], results_dir=tmp_path)
    with pytest.raises(ValueError, match="workers"):
        sweep_status("st", [tiny(0)], results_dir=tmp_path, workers=0)
    with pytest.raises(ValueError, match="backend"):
        sweep_status("st", [tiny(0)], results_dir=tmp_path, backend="threads")


def test_runs_locked_by_another_live_sweep_show_as_in_a_live_sweep(tmp_path):
    import subprocess
    import sys

    from gafn_lib.runner.locks import RunLocks

    configs = [tiny(s) for s in range(2)]
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        locks = RunLocks(ExperimentStore.open("st", tmp_path).root)
        locks.pid = other.pid  # the other process's sweep holds the runs (pid checked for life only)
        locks.acquire([run_id(c) for c in configs])
        table = sweep_status("st", configs, results_dir=tmp_path, workers=1)
        assert table["status"].tolist() == [f"in a live sweep (pid {other.pid} on {locks.host} since {locks.owner(run_id(configs[0])).started_at})"]
    finally:
        other.kill()
        other.wait()
    assert sweep_status("st", configs, results_dir=tmp_path, workers=1)["status"].tolist() == ["not started"]  # its process is gone


def test_checkpointed_ensemble_resumes_whatever_the_workers(tmp_path):
    """An ensemble checkpointed by a one-worker sweep resumes as the same ensemble when the sweep is
    restarted with more workers (which would otherwise split its runs, miss the checkpoint and
    start them again from step 0)."""
    from gafn_lib.core.ensemble import ensemble_id
    from gafn_lib.runner.sweep import checkpointed_ensembles

    configs = [tiny(s) for s in range(3)]
    ids = [run_id(c) for c in configs]
    store = ExperimentStore.open("st", tmp_path)
    trainer = EnsembleTrainer(configs)
    trainer.train(n_steps=20, progress=False)
    name = ensemble_id(ids)
    atomic_torch_save(store.checkpoint_path(name), trainer.state_dict())
    for i, rid in enumerate(ids):  # what execute_ensemble records for a member while it trains
        store.write_metadata(rid, {"run_id": rid, "status": "running", "finished": False, "ensemble": {"id": name, "size": 3, "member": i}})
    assert checkpointed_ensembles(store, ids) == [ids]
    assert checkpointed_ensembles(store, ids[:2]) == []  # a member is not pending: not resumable as it was

    status = sweep_status("st", configs, results_dir=tmp_path, workers=3)
    assert status[["task", "runs", "status", "step"]].values.tolist() == [[name, 3, "checkpointed", 20]]
    run_sweep("st", configs, results_dir=tmp_path, backend="process", workers=3, progress=False)
    assert [store.read_metadata(r)["resumed_from_step"] for r in ids] == [20, 20, 20]
    assert [store.read_metadata(r)["ensemble"]["id"] for r in ids] == [name] * 3


def test_solo_runs_not_started_share_one_row_and_a_checkpointed_one_keeps_its_own(tmp_path):
    """Baselines without an ensemble trainer (MCMC) are one task per run: 50 not-started chains
    would be 50 rows, so consecutive ones of one type and status are one row."""
    from gafn_lib.baselines.mcmc import MCMCConfig

    chains = [MCMCConfig(height=h, n_steps=40, log_every=10, seed=s) for h in (8, 16) for s in range(3)]
    table = sweep_status("st", [tiny(0), *chains], results_dir=tmp_path, workers=1).set_index("task")
    # the chains: one row; the grid run, another config type, a row of its own under its run id
    assert sorted(table.index) == sorted(["(not started)", run_id(tiny(0))])
    assert table.loc["(not started)", "runs"] == 6 and table.loc[run_id(tiny(0)), "runs"] == 1
    assert "MCMCConfig: height 8/16" in table.loc["(not started)", "what"] and "seed 0–2" in table.loc["(not started)", "what"]
    # one chain checkpointed: the runs before it and after it are rows of their own
    store = ExperimentStore.open("st", tmp_path)
    atomic_torch_save(store.checkpoint_path(run_id(chains[2])), {"step_count": 20})
    table = sweep_status("st", chains, results_dir=tmp_path, workers=1)
    assert table[["task", "runs", "status", "step"]].values.tolist() == [
        ["(not started)", 2, "not started", 0], [run_id(chains[2]), 1, "checkpointed", 20], ["(not started)", 3, "not started", 0]]
    # a single waiting run keeps its run id as the task
    assert sweep_status("st", chains[:1], results_dir=tmp_path, workers=1)["task"].tolist() == [run_id(chains[0])]


def test_summary_names_any_other_field_that_differs():
    """A tuning sweep's members differ in fields outside the usual list (PPO's lr, entropy_coef):
    the description names them, so its tasks never read the same; fields that agree stay out."""
    from gafn_lib.baselines.ppo import PPOConfig

    sweep = [PPOConfig(height=32, n_steps=40, lr=lr, entropy_coef=0.1, seed=s) for lr in (1e-3, 1e-4) for s in (0, 1)]
    text = summarise_configs(sweep)
    assert text.startswith("PPOConfig: height 32;") and "seed 0/1" in text
    assert text.endswith("lr 0.0001/0.001") and "entropy_coef" not in text and "n_steps" not in text
    assert summarise_configs(sweep[:1]) == summarise_configs(sweep[:1])  # one config: the usual fields only
    assert "lr" not in summarise_configs([c for c in sweep if c.lr == 1e-3])
