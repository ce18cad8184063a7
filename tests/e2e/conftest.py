"""End-to-end fixtures: the real `fim-lsp` over stdio, the real test model, pytest-lsp clients.

Each test runs once per recorded client (Neovim and VS Code capabilities).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from lsp_server import models

MODEL = "qwen2.5-coder-0.5b-offline"
CLIENTS = ["neovim", "visual_studio_code"]
# A generous time budget: these tests check behaviour, and CI machines are noisy.
SETTINGS: dict[str, Any] = {"model": MODEL, "nThreads": 2, "maxTokens": 64, "nCtx": 2048, "timeBudgetMs": 60000}

if models.local_path(MODEL) is None:
    pytest.exit(f"the test model is missing: run `fim-lsp model pull {MODEL}` (make test does)", returncode=2)

SERVER_ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def server_command() -> list[str]:
    return [sys.executable, "-m", "lsp_server", "--stdio"]


async def start(request: pytest.FixtureRequest, lsp_client: LanguageClient, **settings: Any) -> LanguageClient:
    statuses: list[dict[str, Any]] = []
    lsp_client.statuses = statuses  # type: ignore[attr-defined]

    @lsp_client.feature("fimLsp/status")
    def _status(params: Any) -> None:
        statuses.append({k: getattr(params, k, None) for k in ("state", "message", "model")})

    caps = client_capabilities(request.param)
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=caps,
            root_uri="file:///work/demo",
            initialization_options={**SETTINGS, **settings},
        )
    )
    return lsp_client


async def wait_ready(client: LanguageClient, timeout: float = 120) -> dict[str, Any]:
    """Wait for the server's fimLsp/status to say the model is ready (or failed)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        for status in reversed(client.statuses):  # type: ignore[attr-defined]
            if status["state"] in ("ready", "error"):
                return status
        await asyncio.sleep(0.1)
    raise TimeoutError("server never reported ready")


@pytest_lsp.fixture(config=ClientServerConfig(server_command=server_command(), server_env=SERVER_ENV), params=CLIENTS)
async def client(request: pytest.FixtureRequest, lsp_client: LanguageClient) -> AsyncIterator[LanguageClient]:
    await start(request, lsp_client)
    assert (await wait_ready(lsp_client))["state"] == "ready"
    yield lsp_client
    if lsp_client._server is not None and lsp_client._server.returncode is None:
        await lsp_client.shutdown_session()
