"""Interactive use (issue 11): notebook 00 runs through a Jupyter server's own APIs, and in JupyterLab
driven by a real browser.

- ``test_server_executes_quickstart``: starts ``jupyter server`` on 127.0.0.1 (free port, random
  token), opens notebook 00 through the contents API, starts its kernel through the sessions API,
  executes every code cell over the kernel's websocket with the smoke parameters injected after the
  cell tagged ``parameters`` (as papermill does), saves the executed notebook through the contents
  API and checks its PNG output and the figure file written under ``build/``.
- ``test_browser_runs_quickstart_in_jupyterlab``: starts ``make lab``, and Playwright drives
  Debian's Chromium (``/usr/bin/chromium``; Playwright never downloads a browser here): it opens
  notebook 00, types the smoke parameters into its parameters cell, runs all cells, waits for the
  rendered figure (an ``img`` in an output area) and saves a screenshot to
  ``build/browser/00_quickstart_jupyterlab.png``. Without Chromium the check is skipped with the
  reason printed (``-ra``); with ``GAFN_REQUIRE_BROWSER=1`` (set by ``.ci/run`` once Chromium is
  installed) it fails instead.

Neither test writes into the tracked ``figures/``, ``data/results/`` or ``notebooks/``.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "00_quickstart.ipynb"
FIGURE = "quickstart_learned_distribution"
#: What a user types into the parameters cell for a quick check (papermill's ``-p profile smoke``).
SMOKE_PARAMETERS = 'profile = "smoke"'
CHROMIUM = Path(os.environ.get("GAFN_CHROMIUM", "/usr/bin/chromium"))
#: The launch flags this machine needs (no network but loopback; root; no GPU).
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: Jupyter refuses to run as root unless told (CI and the project's machines run as root).
ALLOW_ROOT = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []


# --------------------------------------------------------------------------------------------
# helpers: a Jupyter server in a subprocess
# --------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def jupyter_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The environment for a test server: the user's Jupyter config, runtime files and lab
    settings are replaced by empty folders under ``tmp``, and no output-folder override leaks in."""
    env = {k: v for k, v in os.environ.items() if k not in ("GAFN_OUTPUT_DIR", "GAFN_PROJECT_ROOT")}
    for name, sub in [("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_RUNTIME_DIR", "runtime"),
                      ("JUPYTERLAB_SETTINGS_DIR", "lab-settings"), ("JUPYTERLAB_WORKSPACES_DIR", "lab-workspaces")]:
        (tmp / sub).mkdir(parents=True, exist_ok=True)
        env[name] = str(tmp / sub)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def http(method: str, url: str, token: str, body: Any = None, timeout: float = 30) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        payload = response.read()
    return json.loads(payload) if payload else None


def wait_for_server(base_url: str, token: str, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the Jupyter server exited with code {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            http("GET", f"{base_url}/api/status", token, timeout=5)
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    raise AssertionError(f"the Jupyter server did not answer within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    """Stop a process started with ``start_new_session=True`` and everything it started (its group)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@contextmanager
def jupyter_server(root_dir: Path, env: dict[str, str], log: Path) -> Iterator[tuple[str, str]]:
    """``jupyter server`` serving ``root_dir`` on 127.0.0.1; yields (base URL, token)."""
    port, token = free_port(), secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyter_server", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={root_dir}", *ALLOW_ROOT]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for_server(base_url, token, proc, log)
        yield base_url, token
    finally:
        stop(proc)


# --------------------------------------------------------------------------------------------
# helpers: executing cells over the kernel's websocket (Jupyter messaging protocol 5.3)
# --------------------------------------------------------------------------------------------


def kernel_message(msg_type: str, content: dict, session: str) -> dict:
    return {
        "header": {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "username": "test", "session": session,
                   "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "version": "5.3"},
        "parent_header": {}, "metadata": {}, "content": content, "channel": "shell", "buffers": [],
    }


def output_of(msg: dict) -> dict | None:
    """The nbformat output for an iopub message (None for status, execute_input, ...)."""
    kind, content = msg["msg_type"], msg["content"]
    if kind == "stream":
        return {"output_type": "stream", "name": content["name"], "text": content["text"]}
    if kind in ("display_data", "execute_result"):
        out = {"output_type": kind, "data": content["data"], "metadata": content.get("metadata", {})}
        if kind == "execute_result":
            out["execution_count"] = content["execution_count"]
        return out
    if kind == "error":
        return {"output_type": "error", "ename": content["ename"], "evalue": content["evalue"],
                "traceback": content["traceback"]}
    return None


async def execute_cells(ws_url: str, token: str, cells: list[dict], timeout_per_cell: float = 600) -> None:
    """Execute the code ``cells`` in order on the kernel behind ``ws_url``, filling in their outputs
    and execution counts; stops at the first error (left in that cell's outputs)."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    session = uuid.uuid4().hex
    conn = await websocket_connect(HTTPRequest(f"{ws_url}?session_id={session}",
                                               headers={"Authorization": f"token {token}"}))
    try:
        for cell in cells:
            request = kernel_message("execute_request", {"code": "".join(cell["source"]), "silent": False,
                                     "store_history": True, "user_expressions": {}, "allow_stdin": False,
                                     "stop_on_error": True}, session)
            await conn.write_message(json.dumps(request))
            msg_id, outputs, reply, idle = request["header"]["msg_id"], [], None, False
            deadline = time.monotonic() + timeout_per_cell
            while reply is None or not idle:
                raw = await asyncio.wait_for(conn.read_message(), timeout=max(1.0, deadline - time.monotonic()))
                if raw is None:
                    raise AssertionError("the kernel's websocket closed")
                msg = json.loads(raw)
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                if msg["channel"] == "shell" and msg["msg_type"] == "execute_reply":
                    reply = msg["content"]
                elif msg["channel"] == "iopub":
                    if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                        idle = True
                    elif (out := output_of(msg)) is not None:
                        outputs.append(out)
            cell["outputs"], cell["execution_count"] = outputs, reply.get("execution_count")
            if reply["status"] != "ok":
                return
    finally:
        conn.close()


def with_injected_parameters(nb: dict, parameters_source: str) -> tuple[dict, list[dict]]:
    """A copy of ``nb`` with a cell tagged ``injected-parameters`` after the ``parameters`` cell
    (papermill's convention); returns it and its code cells."""
    nb = copy.deepcopy(nb)
    cells = nb["cells"]
    index = next(i for i, c in enumerate(cells)
                 if c["cell_type"] == "code" and "parameters" in c.get("metadata", {}).get("tags", []))
    cells.insert(index + 1, {"cell_type": "code", "execution_count": None, "id": "injected-parameters",
                             "metadata": {"tags": ["injected-parameters"]}, "outputs": [],
                             "source": f"# Parameters injected by the test\n{parameters_source}\n"})
    return nb, [c for c in cells if c["cell_type"] == "code"]


def png_outputs(cells: list[dict]) -> list[bytes]:
    return [base64.b64decode(out["data"]["image/png"]) for c in cells for out in c.get("outputs", [])
            if "image/png" in out.get("data", {})]


def errors(cells: list[dict]) -> list[str]:
    return [f"{out['ename']}: {out['evalue']}\n" + "\n".join(out.get("traceback", []))
            for c in cells for out in c.get("outputs", []) if out.get("output_type") == "error"]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------------------------
# the Jupyter server's own kernel and contents API
# --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_server_executes_quickstart(tmp_path):
    """Notebook 00, smoke profile, executed through a Jupyter server's contents, sessions and kernel
    websocket APIs; its figure comes back as a PNG output and is written under ``build/``."""
    start = time.perf_counter()
    # A project folder of its own: the server serves it, and GAFN_PROJECT_ROOT points the
    # notebook's outputs to its build/ (the default for a run that is not `make figures`).
    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    shutil.copy(NOTEBOOK, project / "notebooks" / NOTEBOOK.name)
    env = jupyter_env(tmp_path / "jupyter", GAFN_PROJECT_ROOT=str(project))
    nb_path = f"notebooks/{NOTEBOOK.name}"
    before = digest(NOTEBOOK)

    with jupyter_server(project, env, tmp_path / "server.log") as (base_url, token):
        model = http("GET", f"{base_url}/api/contents/{nb_path}?type=notebook&content=1", token)
        assert model["type"] == "notebook" and model["content"]["cells"]
        session = http("POST", f"{base_url}/api/sessions", token,
                       {"path": nb_path, "type": "notebook", "name": NOTEBOOK.name, "kernel": {"name": "python3"}})
        kernel_id = session["kernel"]["id"]
        try:
            nb, code_cells = with_injected_parameters(model["content"], SMOKE_PARAMETERS)
            ws_url = base_url.replace("http://", "ws://") + f"/api/kernels/{kernel_id}/channels"
            asyncio.run(execute_cells(ws_url, token, code_cells))
            failures = errors(code_cells)
            assert not failures, "notebook 00 failed in the server's kernel:\n" + failures[0]
            assert all(c["execution_count"] for c in code_cells), "not every code cell was executed"

            # save through the contents API, read back through it
            executed_path = "notebooks/00_quickstart.executed.ipynb"
            http("PUT", f"{base_url}/api/contents/{executed_path}", token, {"type": "notebook", "format": "json", "content": nb})
            saved = http("GET", f"{base_url}/api/contents/{executed_path}?type=notebook&content=1", token)["content"]
        finally:
            http("DELETE", f"{base_url}/api/sessions/{session['id']}", token)

    pngs = png_outputs(saved["cells"])
    assert pngs and all(p.startswith(PNG_MAGIC) for p in pngs), "the executed notebook has no PNG figure output"
    figure = project / "build" / "figures" / f"{FIGURE}.png"
    assert figure.is_file() and figure.read_bytes().startswith(PNG_MAGIC), f"no figure file at {figure}"
    assert not (project / "figures").exists() and not (project / "data").exists(), \
        "an interactive run wrote outside build/"
    assert digest(NOTEBOOK) == before, "the committed notebook was modified"
    print(f"\nJupyter server check: notebook 00 (smoke) executed and verified in {time.perf_counter() - start:.1f} s")


# --------------------------------------------------------------------------------------------
# a real browser: JupyterLab started by `make lab`, driven by Playwright in Debian's Chromium
# --------------------------------------------------------------------------------------------

#: JupyterLab settings for the test's own (temporary) settings folder: no autosave (the committed
#: notebook must stay as it is), every cell in the page (no virtual scrolling), no news fetching.
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"checkForUpdates": False, "fetchNews": "false"},
}
LAB_URL = re.compile(r"http://127\.0\.0\.1:(\d+)/lab[^\s?]*\?token=([0-9a-f]+)")


def browser_unavailable(reason: str) -> None:
    """Skip with ``reason`` printed, or fail where the browser is required (CI with Chromium installed)."""
    if os.environ.get("GAFN_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser check required (GAFN_REQUIRE_BROWSER=1) but: {reason}")
    pytest.skip(f"browser check not run: {reason}")


@contextmanager
def make_lab(env: dict[str, str], log: Path, checkpoints: Path, timeout: float = 120) -> Iterator[tuple[str, str, str]]:
    """``make lab`` on a free port; yields (base URL, token, the URL it printed). The token is the
    one JupyterLab generated and printed, as a user would copy it. Checkpoints (the copies JupyterLab
    keeps when it opens a notebook) go to ``checkpoints``, not beside the committed notebooks."""
    make = shutil.which("make")
    if make is None:
        pytest.fail("make is not installed: `make lab` cannot be checked")
    port = free_port()
    # -o: never (re)install from a test; PY: this interpreter (the project's environment)
    cmd = [make, "--no-print-directory", "-C", str(ROOT), "-o", ".venv/.installed", "lab", f"PY={sys.executable}",
           f"LAB_PORT={port}", f"LAB_ARGS=--no-browser --ServerApp.port_retries=0 --FileCheckpoints.root_dir={checkpoints}"]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while not (match := LAB_URL.search(log.read_text())):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"`make lab` printed no JupyterLab URL with its token:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        assert int(match.group(1)) == port, match.group(0)
        base_url, token = f"http://127.0.0.1:{port}", match.group(2)
        wait_for_server(base_url, token, proc, log, timeout=timeout)
        yield base_url, token, match.group(0)
    finally:
        stop(proc)


def cell_prompts(page) -> list[str]:
    return page.locator(".jp-Notebook .jp-CodeCell .jp-InputArea-prompt").all_inner_texts()


def wait_for_run_all(page, timeout: float) -> list[str]:
    """Wait until "Run All Cells" has finished: every prompt numbered (``[3]:``). Fails at once,
    with the stderr/traceback outputs, when it stopped early (a cell raised: later prompts stay empty)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        prompts = [p.strip() for p in cell_prompts(page)]
        done = [bool(re.fullmatch(r"\[\d+\]:", p)) for p in prompts]
        if prompts and not any("*" in p for p in prompts):
            if all(done):
                return prompts
            if any(done):
                shown = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").all_inner_texts()
                pytest.fail(f"Run All stopped early: prompts {prompts}\n" + "\n".join(shown)[-4000:])
        time.sleep(1)
    pytest.fail(f"Run All did not finish within {timeout:.0f} s: prompts {cell_prompts(page)}")


@pytest.mark.slow
def test_browser_runs_quickstart_in_jupyterlab(tmp_path):
    """`make lab`, then in Chromium: open notebook 00, set the smoke profile in its parameters
    cell, Run > Run All Cells, and see the figure rendered as an image in an output area."""
    if not CHROMIUM.exists():
        browser_unavailable(f"{CHROMIUM} does not exist (install Debian's packages: apt-get install -y chromium chromium-driver)")
    try:
        from playwright.sync_api import Error as PlaywrightError, expect, sync_playwright
    except ImportError as err:
        pytest.fail(f"playwright is not installed ({err}); `make install` installs it with the dev extra")

    start = time.perf_counter()
    env = jupyter_env(tmp_path / "jupyter", GAFN_OUTPUT_DIR=str(tmp_path / "outputs"))
    for name, values in LAB_SETTINGS.items():
        path = Path(env["JUPYTERLAB_SETTINGS_DIR"]) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    screenshot = ROOT / "build" / "browser" / "00_quickstart_jupyterlab.png"
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    before = digest(NOTEBOOK)

    with make_lab(env, tmp_path / "lab.log", tmp_path / "checkpoints") as (base_url, token, printed_url):
        assert "/lab/tree/notebooks" in printed_url, f"`make lab` should open the notebooks folder: {printed_url}"
        with sync_playwright() as pw:
            try:
                context = pw.chromium.launch_persistent_context(
                    str(tmp_path / "chromium-profile"), executable_path=str(CHROMIUM), headless=True,
                    args=CHROMIUM_ARGS, viewport={"width": 1400, "height": 1000})
            except PlaywrightError as err:
                browser_unavailable(f"Chromium at {CHROMIUM} could not be launched: {str(err).splitlines()[0]}")
            try:
                page = context.pages[0] if context.pages else context.new_page()
                page.set_default_timeout(60_000)
                page.goto(f"{base_url}/lab/tree/notebooks/{NOTEBOOK.name}?token={token}")
                # the notebook is open and its kernel (python3 = this environment) is idle
                page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=120_000)
                page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
                n_code = sum(c["cell_type"] == "code" for c in json.loads(NOTEBOOK.read_text())["cells"])
                expect(page.locator(".jp-Notebook .jp-CodeCell")).to_have_count(n_code)

                # the parameters cell: add the smoke profile below its first line, as a user would
                editor = page.locator(".jp-Notebook .jp-CodeCell").first.locator(".cm-content")
                assert 'profile = "quick"' in editor.inner_text()
                editor.click()
                page.keyboard.press("Control+End")
                page.keyboard.press("Enter")
                page.keyboard.insert_text(SMOKE_PARAMETERS)
                assert SMOKE_PARAMETERS in editor.inner_text()

                page.locator("#jp-menu-panel").get_by_text("Run", exact=True).click()
                page.get_by_role("menuitem", name="Run All Cells", exact=True).click()

                prompts = wait_for_run_all(page, timeout=900)
                assert len(prompts) == n_code, prompts
                figure = page.locator(".jp-Notebook .jp-OutputArea-output img").first
                figure.wait_for(state="visible", timeout=60_000)
                assert figure.evaluate("img => img.complete && img.naturalWidth > 100 && img.naturalHeight > 100"), \
                    "the figure image did not render"
                figure.scroll_into_view_if_needed()
                page.screenshot(path=str(screenshot))
            finally:
                context.close()

    assert screenshot.is_file() and screenshot.read_bytes().startswith(PNG_MAGIC)
    assert (tmp_path / "outputs" / "figures" / f"{FIGURE}.png").is_file(), "the figure went elsewhere than GAFN_OUTPUT_DIR"
    assert digest(NOTEBOOK) == before, "the committed notebook was modified (autosave?)"
    print(f"\nbrowser check: make lab + Chromium ran notebook 00 (smoke) in {time.perf_counter() - start:.1f} s; "
          f"screenshot {screenshot.relative_to(ROOT)}")
