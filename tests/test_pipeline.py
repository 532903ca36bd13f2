"""Reproduction pipeline: numbered notebooks run in order with the profile, failures named, subsets."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from gafn_lib.repro import pipeline
from gafn_lib.repro.profiles import PROFILES, profile_value, resolve_profile


def write_notebook(path: Path, *cells: str) -> None:
    """A notebook whose first cell (tagged ``parameters``) sets the defaults papermill overrides."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('profile = "quick"\nextra = 0')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params] + [nbformat.v4.new_code_cell(source) for source in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def marker(number: str) -> str:
    # each notebook appends its number, the profile and the extra parameter to a log in the project root
    return f'from pathlib import Path\nwith open(Path("ran.log"), "a") as fh:\n    fh.write(f"{number} {{profile}} {{extra}}\\n")'


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "notebooks").mkdir()
    return tmp_path


def run_pipeline(project: Path, *args: str) -> int:
    return pipeline.main(["--notebooks-dir", str(project / "notebooks"), "--output-dir", str(project / "build"), "--no-progress", *args])


def test_runs_numbered_notebooks_in_order_with_parameters(project, capsys):
    write_notebook(project / "notebooks" / "02_second.ipynb", marker("02"))
    write_notebook(project / "notebooks" / "01_first.ipynb", marker("01"))
    write_notebook(project / "notebooks" / "scratch.ipynb", "raise RuntimeError('not numbered: must not run')")
    assert run_pipeline(project, "--profile", "smoke", "-p", "extra", "7") == 0
    # run in number order, in the project root, with the profile and the extra parameter injected
    assert (project / "ran.log").read_text() == "01 smoke 7\n02 smoke 7\n"
    executed = nbformat.read(project / "build" / "01_first.ipynb", as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)
    assert not (project / "build" / "scratch.ipynb").exists()
    out = capsys.readouterr().out
    assert "01_first.ipynb done in" in out and "02_second.ipynb done in" in out and "all 2 notebooks done in" in out


def test_failing_notebook_is_named_with_its_error_and_stops(project, capsys):
    write_notebook(project / "notebooks" / "01_ok.ipynb", marker("01"))
    write_notebook(project / "notebooks" / "02_broken.ipynb", "x = 1", "raise ValueError(f'bad value {x + 41}')")
    write_notebook(project / "notebooks" / "03_after.ipynb", marker("03"))
    assert run_pipeline(project, "--profile", "smoke") == 1
    err = capsys.readouterr().err
    assert "FAILED 02_broken.ipynb" in err and "ValueError: bad value 42" in err
    assert (project / "ran.log").read_text() == "01 smoke 0\n"  # 03 never ran
    # --only runs a subset (the broken notebook is skipped)
    assert run_pipeline(project, "--profile", "smoke", "--only", "3") == 0
    assert (project / "ran.log").read_text() == "01 smoke 0\n03 smoke 0\n"


def test_no_notebooks_says_so_and_succeeds(project, capsys):
    assert run_pipeline(project, "--profile", "quick") == 0
    out = capsys.readouterr().out
    assert "No numbered notebooks" in out and "no figures were made" in out
    assert not (project / "build").exists()


def test_selection_and_bad_arguments(project, capsys):
    names = ["01_a.ipynb", "02_b.ipynb", "10_c.ipynb"]
    paths = [project / "notebooks" / n for n in names]
    assert [p.name for p in pipeline.select_notebooks(paths, "01,10")] == ["01_a.ipynb", "10_c.ipynb"]
    assert [p.name for p in pipeline.select_notebooks(paths, "2")] == ["02_b.ipynb"]
    with pytest.raises(ValueError, match="no notebook numbered 04"):
        pipeline.select_notebooks(paths, "04")
    with pytest.raises(ValueError, match="notebook numbers"):
        pipeline.select_notebooks(paths, "first")
    assert pipeline.parse_value("7") == 7 and pipeline.parse_value("0.5") == 0.5
    assert pipeline.parse_value("False") is False and pipeline.parse_value("tb") == "tb"
    # lists (e.g. -p seeds "[0, 1]") arrive as lists, not as the string "[0, 1]"
    assert pipeline.parse_value("[0, 1]") == [0, 1] and pipeline.parse_value(" (8, 16) ") == (8, 16)
    assert pipeline.parse_value('{"a": 1}') == {"a": 1}
    with pytest.raises(ValueError, match=r"'\[0, 1' looks like a list"):
        pipeline.parse_value("[0, 1")
    write_notebook(project / "notebooks" / "01_a.ipynb", "pass")
    with pytest.raises(SystemExit) as exit_info:
        run_pipeline(project, "--only", "05")
    assert exit_info.value.code == 2 and "no notebook numbered 05" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        run_pipeline(project, "-p", "seeds", "[0,")
    assert exit_info.value.code == 2 and "-p seeds: -p value '[0,' looks like a list" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run_pipeline(project, "--profile", "huge")
    assert pipeline.check_kernel("python3") is None  # the default kernel runs this interpreter


def test_profiles():
    assert PROFILES == ("quick", "paper", "long")
    assert resolve_profile(" Paper ") == "paper" and resolve_profile("smoke") == "smoke"
    with pytest.raises(ValueError, match="'quick', 'paper'"):
        resolve_profile("fast")
    assert profile_value("quick", quick=1, paper=2, smoke=3) == 1
    assert profile_value("paper", quick=1, paper=2, smoke=3) == 2
    assert profile_value("smoke", quick=1, paper=2, smoke=3) == 3
    assert profile_value("smoke", quick=1, paper=2) == 1  # smoke falls back to quick
    assert profile_value("long", quick=1, paper=2, long=4) == 4
    assert profile_value("long", quick=1, paper=2) == 1  # long falls back to quick


def test_parallel_jobs_run_every_notebook_and_stop_launching_after_a_failure(project, capsys, monkeypatch):
    elsewhere = project / "elsewhere"  # the pipeline is started from another folder than the project
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    # os.chdir is process-wide, so notebooks run in threads must never move it (papermill's cwd= does,
    # and a kernel then started in the folder another notebook's end had restored). Papermill's file
    # handler still "changes" to the folder the process is already in: harmless.
    chdir_calls = []
    real_chdir = os.chdir

    def recording_chdir(path):
        chdir_calls.append(path)
        real_chdir(path)

    monkeypatch.setattr(os, "chdir", recording_chdir)
    for number in ("01", "02", "03"):
        write_notebook(project / "notebooks" / f"{number}_nb.ipynb", marker(number))
    assert run_pipeline(project, "--profile", "smoke", "--jobs", "2") == 0
    assert sorted((project / "ran.log").read_text().splitlines()) == ["01 smoke 0", "02 smoke 0", "03 smoke 0"]
    assert "all 3 notebooks done in" in capsys.readouterr().out
    (project / "ran.log").unlink()
    # 02 must still be running when 01's failure is seen, whatever the kernels' start-up times (a fixed
    # sleep in 02 was not enough on a loaded machine: 02 finished first, freed its slot and 03 started).
    # So 02 waits for a file written once the pipeline's worker has returned 01's failure.
    failure_seen = project / "01.failure-seen"
    real_execute_one = pipeline._execute_one

    def signalling_execute_one(notebook, *args, **kwargs):
        ok = real_execute_one(notebook, *args, **kwargs)
        if not ok:
            failure_seen.touch()
        return ok

    monkeypatch.setattr(pipeline, "_execute_one", signalling_execute_one)
    wait_for_failure = (
        "import time\nfrom pathlib import Path\ndeadline = time.monotonic() + 300\n"
        f"while not Path({str(failure_seen)!r}).exists():\n"
        "    assert time.monotonic() < deadline, '01 never failed'\n    time.sleep(0.05)\ntime.sleep(1)"
    )
    write_notebook(project / "notebooks" / "01_nb.ipynb", "raise ValueError('first fails')")
    write_notebook(project / "notebooks" / "02_nb.ipynb", wait_for_failure, marker("02"))
    assert run_pipeline(project, "--profile", "smoke", "--jobs", "2") == 1
    err = capsys.readouterr().err
    assert "FAILED 01_nb.ipynb" in err and "FAILED 02" not in err, err
    # 02 was running and finished, in the project folder; 03 never started
    assert (project / "ran.log").read_text() == "02 smoke 0\n"
    assert not (elsewhere / "ran.log").exists()
    assert {Path(p) for p in chdir_calls} <= {elsewhere} and Path.cwd() == elsewhere
    with pytest.raises(SystemExit):
        run_pipeline(project, "--jobs", "0")


def test_prefetch_plans_each_notebooks_default_runs_once():
    from gafn_lib.repro import experiments as ex, mol_experiments as mx
    from gafn_lib.repro.prefetch import planned_runs
    from gafn_lib.runner import run_id

    plan = planned_runs(["01", "02", "03", "06"], "smoke")
    per_notebook = ex.notebook_runs("smoke")
    grid_ids = [run_id(c) for c in plan[ex.GRID_STORE]]
    assert len(grid_ids) == len(set(grid_ids))  # 02's runs are 01's: trained once
    assert set(grid_ids) == {run_id(c) for nb in ("01", "02", "03") for c in per_notebook[nb]}
    assert {run_id(c) for c in plan[mx.MOL_STORE]} == {run_id(c) for _, c in mx.notebook_runs("smoke")}
    assert planned_runs(["00", "07"], "quick") == {}
    assert mx.MOL_STORE not in planned_runs(["06"], "long")  # hours per run: `python -m gafn_lib.repro.mol_experiments long`


def test_prefetch_plans_the_paper_profiles_ppo_tuning_sweep_with_notebook_01():
    """The paper profile's 01 includes the PPO tuning sweep (16 runs, 2 of them 01's own PPO runs):
    `prefetch --profile paper --only 01` trains it once; the quick profile has no sweep."""
    from gafn_lib.repro import experiments as ex
    from gafn_lib.repro.prefetch import planned_runs
    from gafn_lib.runner import run_id

    paper = {run_id(c) for c in planned_runs(["01"], "paper")[ex.GRID_STORE]}
    tuning = {run_id(c) for _, c in ex.ppo_tuning_runs()}
    comparison = {run_id(c) for _, c in ex.comparison_runs([8, 16, 32, 64, 128], range(10), 20_000, 1_000)}
    assert tuning <= paper and len(tuning - comparison) == 14 and len(paper) == len(comparison) + 14 == 214
    quick = {run_id(c) for c in planned_runs(["01"], "quick")[ex.GRID_STORE]}
    assert not tuning & quick


def test_prefetch_ensemble_size_caps_the_members_of_each_task(tmp_path, capsys, monkeypatch):
    """--ensemble-size splits a group of compatible runs into smaller ensembles (smaller checkpoints,
    sooner finished), in --status and in the sweep it starts; bad values are refused by name."""
    import gafn_lib.runner
    from gafn_lib.repro import prefetch

    def task_sizes(ensemble_size: int | None = None) -> list[int]:
        tables = prefetch.status(["03"], "smoke", tmp_path, workers=1, ensemble_size=ensemble_size)
        return sorted(tables["gridworld"]["runs"].tolist())

    assert task_sizes() == [14]  # smoke 03: one group of 14 compatible runs under the default cap (32)
    assert task_sizes(5) == [4, 5, 5]
    assert prefetch.main(["--profile", "smoke", "--only", "03", "--results-dir", str(tmp_path), "--workers", "1",
                          "--ensemble-size", "5", "--status"]) == 0
    assert "3 task(s) left" in capsys.readouterr().out
    calls = []
    monkeypatch.setattr(gafn_lib.runner, "run_sweep", lambda *args, **kwargs: calls.append(kwargs))
    assert prefetch.main(["--profile", "smoke", "--only", "03", "--results-dir", str(tmp_path), "--workers", "1", "--ensemble-size", "5"]) == 0
    assert [c.get("ensemble_size") for c in calls] == [5]
    assert prefetch.main(["--profile", "smoke", "--only", "03", "--results-dir", str(tmp_path), "--workers", "1"]) == 0
    assert "ensemble_size" not in calls[-1]  # the runner's default
    with pytest.raises(SystemExit):
        prefetch.main(["--profile", "smoke", "--only", "03", "--ensemble-size", "0"])
    assert "--ensemble-size must be >= 1, got 0" in capsys.readouterr().err


def test_prefetch_command_trains_the_runs_once_and_then_skips_them(tmp_path, capsys):
    from gafn_lib.repro import experiments as ex
    from gafn_lib.repro.prefetch import main as prefetch_main
    from gafn_lib.repro.grid_cost import run_seconds
    from gafn_lib.runner import ExperimentStore, run_id

    # before training: every task not started, with the expected core-hours of the whole sweep
    assert prefetch_main(["--profile", "smoke", "--only", "05", "--results-dir", str(tmp_path), "--workers", "1", "--status"]) == 0
    expected_hours = sum(run_seconds(c) for c in {run_id(c): c for c in ex.notebook_runs("smoke")["05"]}.values()) / 3600
    out = capsys.readouterr().out
    assert "core_hours_left" in out and f"gridworld: ≈ {expected_hours:.3g} core-hours left" in out, out
    assert prefetch_main(["--profile", "smoke", "--only", "05", "--results-dir", str(tmp_path), "--workers", "1"]) == 0
    store = ExperimentStore.open(ex.GRID_STORE, tmp_path)
    expected = {run_id(c) for c in ex.notebook_runs("smoke")["05"]}
    assert all(store.is_complete(rid) for rid in expected)
    capsys.readouterr()
    assert prefetch_main(["--profile", "smoke", "--only", "05", "--results-dir", str(tmp_path), "--workers", "1", "--status"]) == 0
    assert f"gridworld: {len(expected)} of {len(expected)} runs finished; 0 task(s) left" in capsys.readouterr().out
    assert prefetch_main(["--profile", "smoke", "--only", "07"]) == 0
    assert "nothing to prefetch" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        prefetch_main(["--only", "1x"])


CLAIMS_CELL = """
import os
from pathlib import Path
from gafn_lib.repro.claims import claims_table, compare
out = Path(os.environ["GAFN_OUTPUT_DIR"]) / "data" / "results" / "01_demo"
out.mkdir(parents=True, exist_ok=True)
result = compare("A beats B", [0.1, 0.11, 0.12, 0.13], [0.5, 0.52, 0.51, 0.53], metric="l1", better="lower", label_a="A", label_b="B")
claims_table([result], full=True).to_csv(out / "claims_full.csv", index=False)
"""


def test_successful_run_writes_the_claims_summary(project, tmp_path, capsys):
    (project / "gafn_lib").mkdir()  # the project's own layout: the pipeline summarises its claims tables
    write_notebook(project / "notebooks" / "01_demo.ipynb", CLAIMS_CELL)
    out_root = tmp_path / "out"
    assert run_pipeline(project, "--profile", "smoke", "--no-prefetch", "--output-root", str(out_root)) == 0
    summary = out_root / "data" / "results" / "claims_by_profile.md"
    assert summary.is_file() and f"claims by profile: {summary}" in capsys.readouterr().out
    text = summary.read_text()
    assert "### 01_demo" in text and "| A beats B | A vs B | l1 | supported: " in text


def test_a_committed_paper_run_restores_the_run_archive_first(project, monkeypatch):
    """``make figures PROFILE=paper`` hands the committed run archive (data/runs/paper/) to the
    prefetch, which restores it before training; a run into another folder does not."""
    from gafn_lib.repro import prefetch as prefetch_module

    (project / "gafn_lib").mkdir()
    write_notebook(project / "notebooks" / "01_demo.ipynb", "x = 1")
    calls = []
    monkeypatch.setattr(prefetch_module, "prefetch", lambda numbers, profile, results, **kw: calls.append((numbers, profile, kw["archive"])))
    assert run_pipeline(project, "--profile", "paper") == 0
    assert calls[-1] == (["01"], "paper", None)  # no archive folder yet
    (project / "data" / "runs" / "paper").mkdir(parents=True)
    assert run_pipeline(project, "--profile", "paper") == 0
    assert calls[-1] == (["01"], "paper", project.resolve() / "data" / "runs" / "paper")
    assert run_pipeline(project, "--profile", "paper", "--output-root", str(project / "elsewhere")) == 0
    assert calls[-1][2] is None
