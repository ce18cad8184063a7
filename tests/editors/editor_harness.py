"""Drivers for the real-editor suites (editor-clients/): Neovim, VS Code, Vim and Emacs, headless.

The editors run as child processes in their own process group, with a marker in their
environment; every process still carrying the marker afterwards is a leak, which fails the test.
`editor-clients/setup-deps.sh` installs what these suites need.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CLIENTS = REPO / "editor-clients"
SETUP_HINT = "run editor-clients/setup-deps.sh"
MARKER = "FIM_LSP_E2E_RUN_ID"


def fim_lsp_server() -> Path | None:
    """The fim-lsp executable the editors start: $FIM_LSP_SERVER, the venv's, or PATH's."""
    candidates = [
        os.environ.get("FIM_LSP_SERVER"),
        str(Path(sys.executable).parent / "fim-lsp"),
        str(REPO / ".venv/bin/fim-lsp"),
        shutil.which("fim-lsp"),
    ]
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return Path(c)
    return None


def missing(reason: str) -> None:
    """Skip with the reason locally; fail under CI, where a missing piece is a setup bug."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} ({SETUP_HINT} in .ci/run)")
    pytest.skip(f"{reason} ({SETUP_HINT})")


@dataclass
class Run:
    returncode: int
    output: str
    leaked: list[str]


def _marked(run_id: str) -> list[tuple[int, str]]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            env = (entry / "environ").read_bytes()
            if f"{MARKER}={run_id}".encode() in env:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append((int(entry.name), cmd.strip()[:160]))
        except OSError:
            continue
    return found


def run_isolated(
    cmd: list[str], *, cwd: Path, timeout: float, env: dict[str, str] | None = None
) -> Run:
    """Runs `cmd` in a new session; kills its group afterwards; reports leftover processes."""
    run_id = uuid.uuid4().hex
    full_env = {**os.environ, **(env or {}), MARKER: run_id}
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        output += f"\n[driver] killed after {timeout:.0f} s"
    # Servers get a moment to exit after their editor did; whatever is left then has leaked.
    deadline = time.monotonic() + 15
    while _marked(run_id) and time.monotonic() < deadline:
        time.sleep(0.2)
    leaked = _marked(run_id)
    for pid, _ in leaked:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return Run(proc.returncode, output, [f"{pid} {cmd}" for pid, cmd in leaked])


# The completion-menu suites (Vim, Emacs): a word typed before the cursor, and a place where the
# model writes several lines (issue 12: "if pre" gave "if proprocessor" in eglot and no item in
# vim-lsp; "if " gave a NUL byte in Vim).
MENU_MODEL = "qwen2.5-coder-0.5b-offline"
TYPED_WORD = '''import re


def strip_comments(source, preprocessor=None):
    """Remove comments from source, after running the preprocessor if one is given."""
    if pre
    return re.sub(r"#.*", "", source)
'''
MULTI_LINE = "def total(values):\n    result = 0\n    for \n    return result\n"
