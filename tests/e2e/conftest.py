"""End-to-end fixtures: the real `fim-lsp` over stdio, the real test model, pytest-lsp clients.

Each test runs once per recorded client (Neovim and VS Code capabilities).
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsp_helpers import record_statuses, wait_state
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from lsp_server import models

MODEL = "qwen2.5-coder-0.5b-offline"
CLIENTS = ["neovim", "visual_studio_code"]
# A generous time budget: these tests check behaviour, and CI machines are noisy. No KV states on
# disk: a server would start warm from what the previous test's server saved in the shared cache
# (a "cold" prompt then takes no time); test_cold_start.py tests the store with caches of its own.
# No cold-start window either: its size follows the machine's measured speed (test_cold_start.py
# tests it).
SETTINGS: dict[str, Any] = {"model": MODEL, "nThreads": 2, "maxTokens": 64, "nCtx": 2048, "timeBudgetMs": 60000,
                            "typingBudgetMs": 60000, "kvStoreFiles": 0, "coldBudgetMs": 0}

if models.local_path(MODEL) is None:
    pytest.exit(f"the test model is missing: run `fim-lsp model pull {MODEL}` (make test does)", returncode=2)

SERVER_ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def server_command() -> list[str]:
    return [sys.executable, "-m", "lsp_server", "--stdio"]


async def start(request: pytest.FixtureRequest, lsp_client: LanguageClient, **settings: Any) -> LanguageClient:
    return await start_as(lsp_client, client_capabilities(request.param), None, **settings)


async def start_as(lsp_client: LanguageClient, caps: types.ClientCapabilities, name: str | None,
                   **settings: Any) -> LanguageClient:
    record_statuses(lsp_client)
    lsp_client.initialize_result = await lsp_client.initialize_session(  # type: ignore[attr-defined]
        types.InitializeParams(
            capabilities=caps,
            root_uri="file:///work/demo",
            initialization_options={**SETTINGS, **settings},
            client_info=types.ClientInfo(name=name) if name else None,
        )
    )
    return lsp_client


@pytest_lsp.fixture(config=ClientServerConfig(server_command=server_command(), server_env=SERVER_ENV), params=CLIENTS)
async def client(request: pytest.FixtureRequest, lsp_client: LanguageClient) -> AsyncIterator[LanguageClient]:
    await start(request, lsp_client)
    assert (await wait_state(lsp_client))["state"] == "ready"
    yield lsp_client
    if lsp_client._server is not None and lsp_client._server.returncode is None:
        await lsp_client.shutdown_session()


def _one_line_menu() -> types.ClientCapabilities:
    return types.ClientCapabilities(text_document=types.TextDocumentClientCapabilities(
        completion=types.CompletionClientCapabilities(
            completion_item=types.ClientCompletionItemOptions(snippet_support=False))))


# Completion-menu clients as they declare themselves: vim-lsp and ALE (no snippets, no
# clientInfo), eglot 1.9 without yasnippet, Neovim (its recorded capabilities: snippets).
MENU_CLIENTS: dict[str, tuple[str | None, Any]] = {
    "vim-lsp": (None, _one_line_menu),
    "eglot": ("Eglot", _one_line_menu),
    "neovim": ("Neovim", lambda: client_capabilities("neovim")),
}


@pytest_lsp.fixture(config=ClientServerConfig(server_command=server_command(), server_env=SERVER_ENV),
                    params=list(MENU_CLIENTS))
async def menu_client(request: pytest.FixtureRequest, lsp_client: LanguageClient) -> AsyncIterator[LanguageClient]:
    """A ready server and a completion-menu client of each kind; ``.kind`` names it."""
    name, caps = MENU_CLIENTS[request.param]
    await start_as(lsp_client, caps(), name, typingBudgetMs=60000)  # whole lines while typing a word
    assert (await wait_state(lsp_client))["state"] == "ready"
    lsp_client.kind = request.param  # type: ignore[attr-defined]
    yield lsp_client
    if lsp_client._server is not None and lsp_client._server.returncode is None:
        await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=server_command(), server_env=SERVER_ENV),
                    params=["visual_studio_code"])
async def loading_client(request: pytest.FixtureRequest, lsp_client: LanguageClient) -> AsyncIterator[LanguageClient]:
    """Initialized; the model is still loading when the test starts."""
    await start(request, lsp_client)
    yield lsp_client
    if lsp_client._server is not None and lsp_client._server.returncode is None:
        await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=server_command(), server_env=SERVER_ENV))
async def quiet_client(lsp_client: LanguageClient) -> AsyncIterator[LanguageClient]:
    """The tests' settings with the work ahead off (prefetch, speculation, the suggestion cache),
    so that the server's counts of its last request are those of the request the test made."""
    await start_as(lsp_client, client_capabilities("visual_studio_code"), None, prefetch=False, speculate=False,
                   suggestionCache=False)  # fmt: skip
    assert (await wait_state(lsp_client))["state"] == "ready"
    yield lsp_client
    await lsp_client.shutdown_session()


# A workspace folder whose shapes/geometry.py defines what test_repo_context's files import.
REPO_GEOMETRY = '''def area_of_circle(radius: float, *, precision: int = 2) -> float:
    """The area of a circle, rounded to ``precision`` digits."""
    return round(3.14159 * radius * radius, precision)
'''


@pytest.fixture
def repo_workspace(tmp_path: Path) -> Path:
    (tmp_path / "shapes").mkdir()
    (tmp_path / "shapes" / "__init__.py").write_text("")
    (tmp_path / "shapes" / "geometry.py").write_text(REPO_GEOMETRY)
    return tmp_path


@pytest_lsp.fixture(config=ClientServerConfig(server_command=server_command(), server_env=SERVER_ENV))
async def repo_client(lsp_client: LanguageClient, repo_workspace: Path) -> AsyncIterator[LanguageClient]:
    record_statuses(lsp_client)
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("visual_studio_code"),
        root_uri=repo_workspace.as_uri(),
        workspace_folders=[types.WorkspaceFolder(repo_workspace.as_uri(), repo_workspace.name)],
        initialization_options={**SETTINGS, "repoContext": True, "prefetch": False, "speculate": False},
    ))  # fmt: skip
    assert (await wait_state(lsp_client))["state"] == "ready"
    yield lsp_client
    await lsp_client.shutdown_session()


