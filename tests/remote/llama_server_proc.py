"""A real llama-server process for the remote-backend tests (imported by conftest and tests).

Its own module name: a bare `from conftest import ...` picks whichever conftest was imported
first when the whole suite is collected.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

# The helpers beside this file (replay.py) are imported by name, whatever pytest's import mode.
sys.path.insert(0, str(Path(__file__).parent))

MODEL = Path(
    os.environ.get(
        "FIM_LSP_TEST_MODEL",
        Path.home() / ".cache/fim-lsp/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    )
)
SLOTS = 4
CTX = 4096  # shared by the slots: 1024 tokens each


def _cache_root() -> Path:
    if os.environ.get("FIM_LSP_CACHE"):
        return Path(os.environ["FIM_LSP_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "fim-lsp"


def find_llama_server() -> Path | None:
    explicit = os.environ.get("FIM_LSP_LLAMA_SERVER")
    if explicit:
        return Path(explicit) if Path(explicit).is_file() else None
    builds = [p.parent for p in (_cache_root() / "llama.cpp").glob("*/.complete")]
    binaries = [b / "bin/llama-server" for b in sorted(builds, key=lambda b: b.stat().st_mtime)]
    binaries = [b for b in binaries if b.is_file()]
    return binaries[-1] if binaries else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LlamaServer:
    """One llama-server process in its own process group, so stopping it stops everything."""

    def __init__(self, binary: Path, port: int, log_path: Path) -> None:
        self.binary = binary
        self.port = port
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 90.0) -> LlamaServer:
        cmd = [
            str(self.binary), "-m", str(MODEL), "--host", "127.0.0.1", "--port", str(self.port),
            "-t", "2", "--parallel", str(SLOTS), "-c", str(CTX), "--no-webui",
            "--metrics",  # /metrics: the tests count generated tokens with it
        ]  # fmt: skip
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"llama-server exited with {self.proc.returncode}:\n{tail}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.kill()
        raise RuntimeError(
            f"llama-server did not become healthy in {timeout_s}s; see {self.log_path}"
        )

    def kill(self) -> None:
        """SIGKILL the whole process group: the test for a crashed engine wants no goodbye."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
