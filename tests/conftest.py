"""Shared by the notebook tests: one clean clone of the repository per test session, in which the
smoke pipeline (``python -m gafn_lib.repro.pipeline --profile smoke --only NN``) runs each notebook
once, with the default output folders (no ``$GAFN_OUTPUT_DIR``), so the same runs serve the
per-notebook smoke tests (tests/test_notebooks.py) and the check that a smoke run modifies no
tracked file (tests/test_outputs.py).

Before each notebook, the figures and tables earlier notebooks wrote are removed from the output
root (only the run stores stay: a cache keyed by config, which the pipeline's prefetch fills
anyway), so every notebook runs as from a fresh clone and must create each folder it writes into
(issue 22: 07 relied on a figures folder made by the notebooks before it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Where the smoke pipeline writes in the clone (gafn_lib.repro.paths.pipeline_output_root).
SMOKE_OUTPUT = Path("build") / "smoke"


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", "-c", "user.name=gafn tests", "-c", "user.email=tests@localhost", *args], cwd=cwd,
                          check=True, capture_output=True, text=True).stdout


def clean_clone(base: Path) -> Path:
    """A clone of this repository with the working tree's changes committed on top, so the check
    covers the code under test (in CI the working tree is a fresh clone and nothing is added);
    ``git status`` in it starts empty. The project's ``shared/`` folder is linked beside it."""
    clone = base / "gafn"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, capture_output=True)
    changed = git("ls-files", "--modified", "--others", "--exclude-standard", "-z", cwd=ROOT).split("\0")
    deleted = set(git("ls-files", "--deleted", "-z", cwd=ROOT).split("\0"))
    for rel in filter(None, changed):
        target = clone / rel
        if rel in deleted:
            target.unlink(missing_ok=True)
        elif (ROOT / rel).is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, target)
    if git("status", "--porcelain", cwd=clone).strip():
        git("add", "--all", cwd=clone)
        git("commit", "--quiet", "--no-verify", "-m", "working tree under test", cwd=clone)
    assert git("status", "--porcelain", cwd=clone) == ""
    if (ROOT.parent / "shared").is_dir():
        (base / "shared").symlink_to(ROOT.parent / "shared")
    return clone


def _snapshot(folder: Path) -> dict[Path, tuple[int, int]]:
    return {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in folder.rglob("*") if p.is_file()} if folder.is_dir() else {}


@dataclass
class SmokeRun:
    notebook: str
    returncode: int
    output: str
    written: list[Path]  # files created or changed under the clone's build/smoke/

    def check(self) -> None:
        assert self.returncode == 0, f"the smoke pipeline failed on {self.notebook}:\n{self.output[-4000:]}"


class SmokeClone:
    """The clean clone and the smoke pipeline runs in it, one notebook at a time, each at most once."""

    def __init__(self, base: Path):
        self.path = clean_clone(base)
        self.env = {k: v for k, v in os.environ.items() if k not in ("GAFN_OUTPUT_DIR", "GAFN_PROJECT_ROOT")}
        self.env["PYTHONPATH"] = os.pathsep.join([str(self.path), *filter(None, [os.environ.get("PYTHONPATH")])])
        self.runs: dict[str, SmokeRun] = {}

    @property
    def output(self) -> Path:
        return self.path / SMOKE_OUTPUT

    def notebooks(self) -> list[str]:
        return sorted(p.name for p in (self.path / "notebooks").glob("[0-9][0-9]_*.ipynb"))

    def imported_gafn_lib(self) -> Path:
        out = subprocess.run([sys.executable, "-c", "import gafn_lib; print(gafn_lib.__file__)"], cwd=self.path,
                             env=self.env, check=True, capture_output=True, text=True).stdout
        return Path(out.strip()).resolve()

    def clear_outputs(self) -> None:
        """Remove the figures and tables under the output root, keeping the run stores (folders of
        ``data/results/`` holding a ``runs/`` folder)."""
        shutil.rmtree(self.output / "figures", ignore_errors=True)
        results = self.output / "data" / "results"
        for entry in results.iterdir() if results.is_dir() else ():
            if entry.is_dir() and not (entry / "runs").is_dir():
                shutil.rmtree(entry)
            elif not entry.is_dir():
                entry.unlink()

    def run(self, notebook: str) -> SmokeRun:
        if notebook not in self.runs:
            self.clear_outputs()
            before = _snapshot(self.output)
            proc = subprocess.run(
                [sys.executable, "-m", "gafn_lib.repro.pipeline", "--profile", "smoke", "--only", notebook[:2], "--no-progress"],
                cwd=self.path, env=self.env, capture_output=True, text=True, timeout=1200)
            after = _snapshot(self.output)
            written = sorted(p for p, stamp in after.items() if before.get(p) != stamp)
            self.runs[notebook] = SmokeRun(notebook, proc.returncode, proc.stdout + proc.stderr, written)
        return self.runs[notebook]

    def status(self) -> str:
        return git("status", "--porcelain", "--untracked-files=all", cwd=self.path)


@pytest.fixture(scope="session")
def smoke_clone(tmp_path_factory) -> SmokeClone:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout (or no git): the smoke runs use a clean clone of the repository")
    return SmokeClone(tmp_path_factory.mktemp("smoke-clone"))


@pytest.fixture(scope="session")
def proxy():
    """The sEH proxy, loaded once for every molecule test (it is deterministic; its cache is keyed
    by molecule)."""
    from gafn_lib.envs.sehproxy import SEHProxy

    return SEHProxy.load()


@pytest.fixture(scope="module")
def mdp():
    """The fragment MDP with 2–5 blocks, the size of most molecule tests (a test file needing
    another size defines its own ``mdp``)."""
    from gafn_lib.envs.fragments import FragmentMDP

    return FragmentMDP(min_blocks=2, max_blocks=5)
