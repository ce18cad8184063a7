"""What the real server writes to stderr, which editors show as errors (Neovim's lsp.log marks
every stderr line [ERROR]): warnings only, unless -v or --log-file."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from lsp_helpers import receive_frame, send_frame

pytestmark = pytest.mark.model
MODEL = "qwen2.5-coder-0.5b-offline"  # conftest.MODEL, which conftest checks is downloaded


def serve_until_ready(*args: str) -> str:
    """Start the server, wait for the model, stop it; its stderr."""
    proc = subprocess.Popen([sys.executable, "-m", "lsp_server", "--model", MODEL, *args],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        send_frame(proc.stdin, {"id": 1, "method": "initialize", "params": {"capabilities": {}}})
        send_frame(proc.stdin, {"method": "initialized", "params": {}})
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            message = receive_frame(proc.stdout)
            if message.get("method") == "fimLsp/status" and message["params"]["state"] in ("ready", "error"):
                assert message["params"]["state"] == "ready", message
                break
        send_frame(proc.stdin, {"id": 2, "method": "shutdown"})
        while receive_frame(proc.stdout).get("id") != 2:  # exit once shutdown is answered, as editors do
            pass
        send_frame(proc.stdin, {"method": "exit"})
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    return stderr.decode(errors="replace")


def test_stderr_gets_no_info_lines_by_default() -> None:
    stderr = serve_until_ready()
    assert [ln for ln in stderr.splitlines() if " INFO " in ln or " DEBUG " in ln] == [], stderr


def test_a_log_file_gets_info_lines(tmp_path: Path) -> None:
    log = tmp_path / "fim-lsp.log"
    serve_until_ready("--log-file", str(log))
    assert "INFO lsp_server.server.lifecycle: engine ready" in log.read_text()


def test_the_default_model_starts_without_a_warning() -> None:
    """Issue 24: llama.cpp's vocabulary notes ("control-looking token ... probably a bug in the
    model") and "instruct/chat model" about our own default landed in the editor as errors."""
    assert serve_until_ready().strip() == ""


def test_vocabulary_notes_stay_at_debug_level(tmp_path: Path) -> None:
    log = tmp_path / "fim-lsp.log"
    serve_until_ready("-v", "--log-file", str(log))  # a file: -v on stderr would fill the pipe
    notes = [ln for ln in log.read_text().splitlines() if "control-looking token" in ln]
    assert notes and all(" DEBUG lsp_server.llama_cpp.native: load: " in ln for ln in notes), notes


def test_a_chat_model_the_user_picked_is_named_once_with_what_to_do() -> None:
    from lsp_server import models

    path = models.local_path(MODEL)
    assert path is not None
    stderr = serve_until_ready("--model", str(path))  # the same file, picked by path
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and " WARNING " in lines[0], stderr
    assert "instruct/chat model" in lines[0] and "fim-lsp model list" in lines[0], lines[0]
