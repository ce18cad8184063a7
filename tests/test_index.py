"""The workspace index: which files it reads, what it resolves, and that it never holds a
request up for longer than asked (real files in a temporary workspace; no model)."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import pytest

from lsp_server import workspace as index_module
from lsp_server.workspace import WorkspaceIndex


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    _write(root, {
        "pkg/__init__.py": "from .core import Engine\n",
        "pkg/core.py": 'class Engine:\n    """Runs things."""\n    def run(self, n: int) -> int:\n        return n\n',
        "pkg/util.py": "def helper(x: int) -> str:\n    return str(x)\n\nLIMIT = 3\n",
        "pkg/app.py": "from . import util\nfrom .util import helper\nfrom pkg import Engine\n\n"
                      "def main():\n    util.LIMIT\n    \n",
    })  # fmt: skip
    return root


def _names(index: WorkspaceIndex, file: Path, wait_s: float = 2.0) -> dict[str, str]:
    text = file.read_text()
    return {f"{d.path}:{d.name}": d.stub for d in index.definitions(text, str(file), wait_s)}


def test_relative_absolute_re_exported_and_module_attribute_imports_resolve(workspace: Path) -> None:
    index = WorkspaceIndex([workspace])
    found = _names(index, workspace / "pkg/app.py")
    assert list(found) == ["pkg/util.py:LIMIT", "pkg/util.py:helper", "pkg/core.py:Engine"]
    assert found["pkg/util.py:helper"].startswith("def helper(x: int) -> str:")
    assert "def run(self, n: int) -> int: ..." in found["pkg/core.py:Engine"]
    index.close()


def test_nothing_outside_the_workspace_folders_is_read(tmp_path: Path, workspace: Path) -> None:
    _write(tmp_path / "outside", {"secret.py": "TOKEN = 'x'\n"})
    os.symlink(tmp_path / "outside" / "secret.py", workspace / "pkg" / "leak.py")
    _write(workspace, {"pkg/uses.py": "from .leak import TOKEN\nfrom outside.secret import TOKEN as T\n"})
    index = WorkspaceIndex([workspace])
    assert _names(index, workspace / "pkg/uses.py") == {}
    outside = tmp_path / "outside" / "app.py"
    _write(tmp_path / "outside", {"app.py": "from pkg.util import helper\n"})
    assert index.definitions(outside.read_text(), str(outside), 1.0) == []  # a file outside: no context
    index.close()


def test_huge_binary_and_undecodable_files_are_skipped_and_logged_once(
    workspace: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index_module, "MAX_FILE_BYTES", 1000)
    _write(workspace, {"pkg/big.py": "X = 1\n" * 400, "pkg/user.py": "from .big import X\nfrom .bin import Y\n"
                       "from .latin import Z\n"})  # fmt: skip
    (workspace / "pkg/bin.py").write_bytes(b"Y = 1\n\0\0\0")
    (workspace / "pkg/latin.py").write_bytes("Z = 'é'\n".encode("latin-1"))
    index = WorkspaceIndex([workspace])
    with caplog.at_level(logging.DEBUG, logger="lsp_server.workspace"):
        for _ in range(3):
            assert _names(index, workspace / "pkg/user.py") == {}
    skipped = [r.getMessage() for r in caplog.records if "skipping" in r.getMessage()]
    assert len(skipped) == 3 and any("over 1000 bytes" in m for m in skipped)
    assert any("binary" in m for m in skipped) and any("not UTF-8" in m for m in skipped)
    index.close()


def test_a_changed_file_is_summarized_again(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_module, "RECHECK_S", 0.0)
    index = WorkspaceIndex([workspace])
    assert "LIMIT = 3" in _names(index, workspace / "pkg/app.py").values()
    util = workspace / "pkg/util.py"
    util.write_text(util.read_text().replace("LIMIT = 3", "LIMIT = 30"))
    os.utime(util, ns=(1, 1))  # a different stamp, whatever the file system's clock resolution
    # The request that notices the change gets the kept summary; the refresh runs beside it.
    for _ in range(100):
        if "LIMIT = 30" in _names(index, workspace / "pkg/app.py").values():
            break
        time.sleep(0.02)
    assert "LIMIT = 30" in _names(index, workspace / "pkg/app.py").values()
    index.close()


def test_a_request_waits_no_longer_than_asked_and_warm_prepares_the_next(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = threading.Event()
    real = index_module.summarize

    def slow(source: str):  # type: ignore[no-untyped-def]
        gate.wait(5)
        return real(source)

    monkeypatch.setattr(index_module, "summarize", slow)
    index = WorkspaceIndex([workspace])
    app = workspace / "pkg/app.py"
    assert _names(index, app, wait_s=0.0) == {}  # not summarized yet: no context, no wait
    index.warm(app.read_text(), str(app))
    gate.set()
    assert len(_names(index, app)) == 3
    index.close()


def test_a_file_without_a_path_or_not_python_gets_nothing(workspace: Path) -> None:
    index = WorkspaceIndex([workspace])
    assert index.definitions("from pkg.util import helper\n", "", 1.0) == []
    assert index.definitions("from pkg.util import helper\n", str(workspace / "notes.md"), 1.0) == []
    index.close()


def test_a_buffer_that_imports_only_from_outside_the_workspace_gets_no_context(workspace: Path) -> None:
    """Such a buffer's prompt is the one it had without repoContext (HumanEval-infilling's case)."""
    index = WorkspaceIndex([workspace])
    text = "import math\nfrom typing import List\nfrom os.path import join\n\ndef f(xs: List[int]):\n    \n"
    assert index.definitions(text, str(workspace / "solution.py"), 1.0) == []
    index.close()
