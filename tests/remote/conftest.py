"""Fixtures for the remote-engine tests: a real llama-server on 127.0.0.1, and replay servers.

The llama-server binary comes from scripts/build-llama.sh (cached outside the repository).
``FIM_LSP_LLAMA_SERVER`` names it explicitly (CI sets it from the script's output); otherwise the
newest complete build in the cache is used. Tests that need it are skipped, with the reason,
only when no binary is built.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

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


@pytest.fixture(scope="session")
def llama_server_binary() -> Path:
    binary = find_llama_server()
    if binary is None:
        pytest.skip(
            "llama-server is not built: run scripts/build-llama.sh "
            "(or set FIM_LSP_LLAMA_SERVER to the binary)"
        )
    if not MODEL.is_file():
        pytest.skip(f"test model missing: {MODEL}")
    return binary


@pytest.fixture(scope="session")
def llama_server(
    llama_server_binary: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LlamaServer]:
    """One llama-server with several slots, shared by the session's tests."""
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    server = LlamaServer(llama_server_binary, free_port(), log_path).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def private_llama_server(llama_server_binary: Path, tmp_path: Path) -> Iterator[LlamaServer]:
    """A llama-server of the test's own, for tests that kill it."""
    server = LlamaServer(llama_server_binary, free_port(), tmp_path / "server.log")
    try:
        yield server
    finally:
        server.stop()
