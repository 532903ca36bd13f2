"""Reproduce the figures: execute the numbered notebooks in order with papermill.

Usage (``make figures PROFILE=quick NB=01`` calls this)::

    python -m gafn_lib.repro.pipeline --profile quick                  # every notebooks/NN_*.ipynb
    python -m gafn_lib.repro.pipeline --profile paper --only 01,03     # a subset, by number
    python -m gafn_lib.repro.pipeline --profile quick -p seeds 2       # extra notebook parameters

Each notebook ``notebooks/NN_*.ipynb`` is executed with the current interpreter's ``python3``
kernel, with the parameter ``profile`` (and any ``-p key value``) injected after its cell tagged
``parameters``. The kernel's working folder is the project root (the parent of the notebooks
folder). Executed copies (with outputs) go to the git-ignored ``build/notebooks/``.

Where figures and tables go (:mod:`gafn_lib.repro.paths`; passed to the notebooks as
``$GAFN_OUTPUT_DIR``): a committed profile (``quick``, ``paper``, ``long``) with no ``-p``
parameter other than ``workers``/``backend`` writes the project's tracked ``figures/`` and
``data/results/``; ``--profile smoke``, or any other ``-p``, writes to ``build/<profile>/``;
``--output-root DIR`` (or ``$GAFN_OUTPUT_DIR``) names the folder instead.

Before the notebooks, the runs they will read are trained in one sweep per run store with every
core (:mod:`gafn_lib.repro.prefetch`; ``--no-prefetch`` skips it, and it is skipped whenever a
``-p`` parameter other than ``workers``/``backend`` changes the notebooks' runs). ``--jobs N``
then executes up to ``N`` notebooks at a time (``make figures`` uses 2; default 1: in order). A
committed run of the ``paper`` or ``long`` profile first restores the committed run archive
``data/runs/<profile>/`` into the run store (:mod:`gafn_lib.runner.archive`), so the notebooks find
the archived runs and train only what it lacks.

The first failing notebook stops the pipeline (with ``--jobs N``, no further notebook starts; the
ones running finish): its name and the failing cell's error are printed and the exit code is 1.
Run results are cached by :mod:`gafn_lib.runner`, so running the pipeline again after a failure or
a kill only computes what is missing.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from gafn_lib.repro.paths import EXECUTION_PARAMETERS, OUTPUT_ENV_VAR, pipeline_output_root, run_archive_dir
from gafn_lib.repro.notebook_selection import NOTEBOOK_PATTERN, find_notebooks, parse_only, select_notebooks  # noqa: F401 (re-exported)
from gafn_lib.repro.profiles import ALL_PROFILES

DEFAULT_KERNEL = "python3"


def parse_value(text: str) -> Any:
    """A ``-p`` value: int, float, True/False/None, a Python literal list / tuple / dict (``"[0, 1]"``,
    e.g. ``-p seeds "[0, 1]"``), else the string itself (as papermill's CLI).

    Raises:
        ValueError: for text that opens a list, tuple or dict but is not a valid literal, naming it.
    """
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    if text.strip()[:1] in ("[", "(", "{"):
        try:
            return ast.literal_eval(text.strip())
        except (ValueError, SyntaxError) as err:
            raise ValueError(f"-p value {text!r} looks like a list, tuple or dict but is not a Python literal ({err})") from None
    return {"True": True, "False": False, "None": None}.get(text, text)


def check_kernel(kernel_name: str) -> str | None:
    """A warning if ``kernel_name`` would not run this interpreter (None when it does)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(kernel_name)
    except NoSuchKernel:
        return f"no Jupyter kernel named {kernel_name!r}; install one with: {sys.executable} -m ipykernel install --user"
    executable = spec.argv[0] if spec.argv else ""
    # jupyter_client replaces a bare "python"/"python3" by the running interpreter
    if executable in ("python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info[:2])):
        return None
    if os.path.realpath(executable) != os.path.realpath(sys.executable):
        return (
            f"the kernel {kernel_name!r} runs {executable}, not this interpreter ({sys.executable}); "
            f"pass --kernel, or reinstall it with: {sys.executable} -m ipykernel install --user --name {kernel_name}"
        )
    return None


def execute(
    notebooks: list[Path],
    output_dir: Path,
    parameters: dict[str, Any],
    kernel_name: str = DEFAULT_KERNEL,
    cwd: Path | None = None,
    progress: bool = False,
    output_root: Path | None = None,
    jobs: int = 1,
) -> int:
    """Execute ``notebooks`` (in order, or up to ``jobs`` at a time); stop at the first failure.
    Returns the exit code (0 or 1).

    ``output_root``: the folder the notebooks write their figures and tables under (given to their
    kernels as ``$GAFN_OUTPUT_DIR``); None leaves the environment as it is.
    """
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
    if output_root is None:
        return _execute(notebooks, output_dir, parameters, kernel_name, cwd, progress, jobs)
    previous = os.environ.get(OUTPUT_ENV_VAR)
    os.environ[OUTPUT_ENV_VAR] = str(Path(output_root).resolve())
    try:
        return _execute(notebooks, output_dir, parameters, kernel_name, cwd, progress, jobs)
    finally:
        if previous is None:
            os.environ.pop(OUTPUT_ENV_VAR, None)
        else:
            os.environ[OUTPUT_ENV_VAR] = previous


def _execute_one(notebook: Path, label: str, output_dir: Path, parameters: dict[str, Any], kernel_name: str,
                 cwd: Path | None, progress: bool, lock: threading.Lock) -> bool:
    """Execute one notebook with papermill; print its outcome. True if it succeeded."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    output = output_dir / notebook.name
    with lock:
        print(f"{label} {notebook.name} ...", flush=True)
    start = time.perf_counter()
    try:
        # The kernel's working folder goes to nbclient as resources["metadata"]["path"], not as
        # papermill's ``cwd``: that one calls os.chdir, which is process-wide and races between
        # notebooks run at the same time (a kernel could start in another notebook's restored folder).
        kernel_dir = Path(cwd or notebook.resolve().parent.parent).resolve()
        papermill.execute_notebook(
            str(notebook.resolve()), str(output.resolve()), parameters=parameters, kernel_name=kernel_name,
            progress_bar=progress, log_output=False, resources={"metadata": {"path": str(kernel_dir)}},
        )
    except PapermillExecutionError as err:
        elapsed = time.perf_counter() - start
        first_line = next((line.strip() for line in (err.source or "").splitlines() if line.strip()), "")
        first_line = first_line if len(first_line) <= 80 else first_line[:79] + "…"
        with lock:
            print(
                f"FAILED {notebook.name} after {elapsed:.1f} s: cell In [{err.exec_count}] `{first_line}` "
                f"raised {err.ename}: {err.evalue}\n"
                f"  the executed copy with the full traceback: {output}",
                file=sys.stderr, flush=True,
            )
        return False
    except Exception as err:  # the kernel could not start, the notebook is not valid JSON, ...
        elapsed = time.perf_counter() - start
        with lock:
            print(f"FAILED {notebook.name} after {elapsed:.1f} s: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
        return False
    with lock:
        print(f"      {notebook.name} done in {time.perf_counter() - start:.1f} s -> {output}", flush=True)
    return True


def _execute(notebooks: list[Path], output_dir: Path, parameters: dict[str, Any], kernel_name: str,
             cwd: Path | None, progress: bool, jobs: int = 1) -> int:
    output_dir.mkdir(parents=True, exist_ok=True)
    total_start = time.perf_counter()
    lock = threading.Lock()
    queue = [(nb, f"[{i}/{len(notebooks)}]") for i, nb in enumerate(notebooks, 1)]
    progress = progress and jobs == 1  # one cell progress bar at a time
    failed = False
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        running: set = set()
        while queue or running:
            while queue and not failed and len(running) < jobs:  # after a failure no notebook starts
                notebook, label = queue.pop(0)
                running.add(pool.submit(_execute_one, notebook, label, output_dir, parameters, kernel_name, cwd, progress, lock))
            if not running:
                break
            finished, running = wait(running, return_when=FIRST_COMPLETED)
            failed = failed or not all(f.result() for f in finished)
    if failed:
        return 1
    print(f"all {len(notebooks)} notebooks done in {time.perf_counter() - total_start:.1f} s", flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gafn_lib.repro.pipeline", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", choices=ALL_PROFILES, default="quick",
                        help="quick: minutes; paper: the paper's sizes (hours to days); long: between the two; "
                             "smoke: seconds, for tests (writes under build/)")
    parser.add_argument("--only", default=None, help="notebook numbers to run, e.g. 01 or 01,03 (default: all)")
    parser.add_argument("--notebooks-dir", default="notebooks", type=Path)
    parser.add_argument("--output-dir", default=Path("build/notebooks"), type=Path, help="where executed copies go")
    parser.add_argument("--output-root", default=None, type=Path,
                        help="folder for the notebooks' figures/ and data/results/ (default: $GAFN_OUTPUT_DIR if set, "
                             "else the project's tracked folders for quick/paper/long without result-changing -p, "
                             "else build/<profile>)")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
                        help="extra notebook parameter (repeatable); VALUE is parsed as int/float/True/False/None if it can be")
    parser.add_argument("--kernel", default=DEFAULT_KERNEL, help="Jupyter kernel (default: python3, i.e. this interpreter)")
    parser.add_argument("--no-progress", action="store_true", help="no per-cell progress bar")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks executed at a time (default 1: in order)")
    parser.add_argument("--no-prefetch", action="store_true",
                        help="do not train the notebooks' runs up front (each notebook then trains its own)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    parameters: dict[str, Any] = {"profile": args.profile}
    for key, value in args.parameter:
        if not key.isidentifier():
            parser.error(f"-p: parameter name must be a Python identifier, got {key!r}")
        if key == "profile":
            parser.error("-p profile ...: use --profile")
        try:
            parameters[key] = parse_value(value)
        except ValueError as err:
            parser.error(f"-p {key}: {err}")

    notebooks = find_notebooks(args.notebooks_dir)
    if not notebooks:
        where = args.notebooks_dir if args.notebooks_dir.is_dir() else f"{args.notebooks_dir} (the folder does not exist)"
        print(f"No numbered notebooks (NN_*.ipynb) in {where}: nothing was executed and no figures were made.")
        return 0
    try:
        selected = select_notebooks(notebooks, args.only)
    except ValueError as err:
        parser.error(str(err))

    warning = check_kernel(args.kernel)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    project = args.notebooks_dir.resolve().parent
    if args.output_root is not None:
        output_root = args.output_root.resolve()
    elif os.environ.get(OUTPUT_ENV_VAR):
        output_root = Path(os.environ[OUTPUT_ENV_VAR]).expanduser().resolve()
    else:
        output_root = pipeline_output_root(project, args.profile, [key for key, _ in args.parameter])
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    extra = ", ".join(f"{k}={v!r}" for k, v in parameters.items())
    print(f"Executing {len(selected)} notebook(s) from {args.notebooks_dir} with {extra}; executed copies in {args.output_dir}")
    tracked = " (the project's tracked results)" if output_root == project else ""
    print(f"Figures go to {output_root / 'figures'}, tables to {output_root / 'data' / 'results'}{tracked}")
    is_gafn = (project / "gafn_lib").is_dir()  # the project's own notebooks (not some other folder of notebooks)
    if is_gafn and not args.no_prefetch and {key for key, _ in args.parameter} <= EXECUTION_PARAMETERS:
        from gafn_lib.repro.prefetch import prefetch

        numbers = [NOTEBOOK_PATTERN.match(nb.name).group(1) for nb in selected]
        workers = parameters.get("workers") if isinstance(parameters.get("workers"), int) else None
        backend = parameters.get("backend") if parameters.get("backend") in ("process", "ray", "serial") else "process"
        try:
            # a committed run of a long profile starts from the committed run archive (data/runs/<profile>/)
            archive = run_archive_dir(args.profile, project) if output_root == project else None
            prefetch(numbers, args.profile, output_root / "data" / "results", workers=workers, backend=backend,
                     archive=archive if archive is not None and archive.is_dir() else None)
        except Exception as err:  # the notebooks train what is missing and report any error themselves
            print(f"warning: prefetch stopped ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}); "
                  "the notebooks train what is missing", file=sys.stderr, flush=True)
    status = execute(selected, args.output_dir, parameters, kernel_name=args.kernel, cwd=project,
                     progress=not args.no_progress and sys.stderr.isatty(), output_root=output_root,
                     jobs=args.jobs)
    if is_gafn and status == 0:
        from gafn_lib.repro.report import write_summary

        try:  # every claim x profile in one table, always in step with the claims tables beside it
            written = write_summary(output_root / "data" / "results")
        except ValueError as err:  # an old claims table without the full columns: the notebooks' outputs stand
            print(f"warning: claims summary not written ({err})", file=sys.stderr)
        else:
            if written is not None:
                print(f"claims by profile: {written}")
    return status


if __name__ == "__main__":
    sys.exit(main())
