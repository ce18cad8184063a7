"""Fixtures for the remote-engine tests: a real llama-server on 127.0.0.1, and replay servers.

The llama-server binary comes from scripts/build-llama.sh (cached outside the repository).
``FIM_LSP_LLAMA_SERVER`` names it explicitly (CI sets it from the script's output); otherwise the
newest complete build in the cache is used. Tests that need it are skipped, with the reason,
only when no binary is built.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The helpers beside this file (replay.py) are imported by name, whatever pytest's import mode.
sys.path.insert(0, str(Path(__file__).parent))

from llama_server_proc import MODEL, LlamaServer, find_llama_server, free_port  # noqa: E402


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
