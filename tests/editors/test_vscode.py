"""The VS Code extension (editor-clients/vscode).

- unit: vitest on the extension's own logic (settings, status bar, server lookup, models, the
  next-edit state machine);
- package: `npm run package` builds a .vsix holding the compiled extension and its runtime deps;
- e2e: real VS Code (the server bundled in code-server, on Node 24) in Debian's chromium via
  playwright-core, with the extension under development talking to the real fim-lsp and model.
  Slow (VS Code start-up plus the model), so it runs only with FIM_LSP_VSCODE_E2E=1; CI sets it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from editor_harness import CLIENTS, fim_lsp_server, missing, run_isolated

EXT = CLIENTS / "vscode"
CACHE = Path(os.environ.get("FIM_LSP_CACHE", Path.home() / ".cache/fim-lsp")) / "editors"
E2E_FLAG = "FIM_LSP_VSCODE_E2E"


def npm() -> str:
    path = shutil.which("npm")
    if path is None:
        missing("npm is not installed")
    assert path is not None
    return path


@pytest.fixture(scope="module")
def built() -> Path:
    """The extension with its node_modules, compiled."""
    if not (EXT / "node_modules/vscode-languageclient").is_dir():
        missing("the extension's npm dependencies are not installed")
    subprocess.run([npm(), "run", "--silent", "compile"], cwd=EXT, check=True, timeout=300)
    return EXT


def test_extension_unit(built: Path) -> None:
    run = run_isolated(
        [npm(), "test", "--", "--reporter=verbose"], cwd=built, timeout=300, env={"NO_COLOR": "1"}
    )
    output = re.sub(r"\x1b\[[0-9;]*m", "", run.output)
    print(output)
    assert run.returncode == 0, output
    m = re.search(r"Tests\s+(\d+) passed", output)
    assert m and int(m.group(1)) > 0, output
    assert "failed" not in output.split("Test Files")[-1], output


def test_extension_packages_as_vsix(built: Path) -> None:
    vsix = built / "fim-lsp.vsix"
    vsix.unlink(missing_ok=True)
    run = run_isolated([npm(), "run", "package"], cwd=built, timeout=300)
    print(run.output)
    assert run.returncode == 0, run.output
    with zipfile.ZipFile(vsix) as z:
        names = set(z.namelist())
    assert "extension/package.json" in names
    assert "extension/out/extension.js" in names
    assert any(n.startswith("extension/node_modules/vscode-languageclient/") for n in names)
    assert not [n for n in names if n.startswith(("extension/src/", "extension/out/test/"))]


@pytest.mark.model
def test_vscode_e2e_inline_suggestion(built: Path) -> None:
    if os.environ.get(E2E_FLAG) != "1":
        pytest.skip(
            f"slow real-VS Code suite (~1 min plus model time): set {E2E_FLAG}=1 to run it (CI does)"
        )
    for need, what in [
        (CACHE / "node24/bin/node", "Node 24"),
        (CACHE / "code-server/lib/vscode/out/server-main.js", "the code-server bundle"),
        (Path("/usr/bin/chromium"), "Debian's chromium"),
    ]:
        if not need.exists():
            missing(f"{what} is missing at {need}")
    server = fim_lsp_server()
    if server is None:
        missing("the fim-lsp command is not installed (pip install -e .)")
    assert server is not None
    node = shutil.which("node")
    assert node, "node is not on PATH"
    run = run_isolated(
        [node, "test/e2e/run.mjs"],
        cwd=built,
        timeout=900,
        env={"FIM_LSP_SERVER": str(server), "FIM_LSP_E2E_TIMEOUT_S": "780"},
    )
    print(run.output)
    assert run.returncode == 0, run.output
    m = re.search(r"vscode-e2e: (\d+) passed, (\d+) failed", run.output)
    assert m and int(m.group(2)) == 0 and int(m.group(1)) >= 9, run.output
    assert "PASS fimLsp.server.path set in User settings starts the server" in run.output
    assert "PASS trigger + commit inserts the real model's suggestion" in run.output
    assert "PASS a next edit away from the cursor is drawn; Tab jumps, Tab accepts" in run.output
    assert not run.leaked, f"processes left behind: {run.leaked}"
