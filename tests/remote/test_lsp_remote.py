"""End to end: the real `fim-lsp` over stdio, completing through a shared llama-server.

Each LSP server is told ``{"backend": "llama-server" | "openai", "url": ...}`` in its
initializationOptions, as an editor pointed at a team's engine would be.
"""

from __future__ import annotations

import ast
import asyncio
import os
import sys
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from llama_server_proc import LlamaServer
from lsp_helpers import record_statuses, wait_state
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities, make_test_lsp_client

SOURCE = (
    "def mean(values):\n"
    '    """Return the arithmetic mean of values."""\n'
    "    return sum(values) / len(values)\n"
    "\n"
    "\n"
    "def variance(values):\n"
    '    """Return the population variance of values."""\n'
    "    m = mean(values)\n"
    "    \n"  # the cursor: line 8, after the indent
    "\n"
    'if __name__ == "__main__":\n'
    "    print(variance([1.0, 2.0, 3.0]))\n"
)
BODY = types.Position(line=8, character=4)
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}
# No time budget to speak of: these tests check that completions come through, and on a 2-core
# machine shared with other work llama-server's two threads can fall to seconds per token, so a
# budget would cut suggestions mid-line (and the cut suggestion is dropped). 10 minutes.
SETTINGS: dict[str, Any] = {"maxTokens": 32, "timeBudgetMs": 600_000}


@asynccontextmanager
async def lsp_client(
    options: dict[str, Any], capabilities: str = "neovim"
) -> AsyncIterator[LanguageClient]:
    """A fim-lsp process with its own client; waits until the server reports ready (or error)."""
    client = make_test_lsp_client()
    record_statuses(client)

    await client.start_io(sys.executable, "-m", "lsp_server", "--stdio", env=ENV)
    try:
        await client.initialize_session(
            types.InitializeParams(
                capabilities=client_capabilities(capabilities),
                root_uri="file:///work/demo",
                initialization_options={**SETTINGS, **options},
            )
        )
        yield client
    finally:
        if client._server is not None and client._server.returncode is None:
            await client.shutdown_session()


def open_doc(client: LanguageClient, text: str, uri: str) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "python", 1, text))
    )


async def inline(client: LanguageClient, uri: str, position: types.Position) -> list[str]:
    result = await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Automatic
            ),
            text_document=types.TextDocumentIdentifier(uri),
            position=position,
        )
    )
    assert isinstance(result, types.InlineCompletionList)
    return [str(item.insert_text) for item in result.items]


def insert(text: str, position: types.Position, snippet: str) -> str:
    lines = text.split("\n")
    offset = sum(len(ln) + 1 for ln in lines[: position.line]) + position.character
    return text[:offset] + snippet + text[offset:]


@pytest.mark.parametrize("capabilities", ["neovim", "visual_studio_code"])
@pytest.mark.parametrize("backend", ["llama-server", "openai"])
async def test_completion_through_a_shared_engine(
    llama_server: LlamaServer, backend: str, capabilities: str
) -> None:
    async with lsp_client({"backend": backend, "url": llama_server.url}, capabilities) as client:
        assert (await wait_state(client))["state"] == "ready"
        uri = "file:///work/demo/stats.py"
        open_doc(client, SOURCE, uri)
        texts = await inline(client, uri, BODY)
        assert len(texts) == 1 and texts[0].strip(), texts
        ast.parse(insert(SOURCE, BODY, texts[0]))
        assert 'if __name__ == "__main__":' not in texts[0]


async def test_several_editors_share_one_llama_server(llama_server: LlamaServer) -> None:
    """Three LSP servers (three editors) ask at once; llama-server runs them in parallel slots."""
    peak = 0
    sampling = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not sampling.is_set():
            slots = httpx.get(f"{llama_server.url}/slots", timeout=5).json()
            peak = max(peak, sum(1 for s in slots if s.get("is_processing")))
            time.sleep(0.01)

    async with (
        lsp_client({"backend": "llama-server", "url": llama_server.url}) as a,
        lsp_client({"backend": "llama-server", "url": llama_server.url}) as b,
        lsp_client({"backend": "llama-server", "url": llama_server.url}) as c,
    ):
        clients = [a, b, c]
        for client in clients:
            assert (await wait_state(client))["state"] == "ready"
        requests = []
        for n, client in enumerate(clients):
            uri = f"file:///work/demo/editor{n}/stats.py"
            open_doc(client, f"# editor {n}\n" + SOURCE, uri)
            requests.append(inline(client, uri, types.Position(BODY.line + 1, BODY.character)))
        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            results = await asyncio.gather(*requests)
        finally:
            sampling.set()
            sampler.join()
    assert all(len(texts) == 1 and texts[0].strip() for texts in results), results
    assert peak >= 2, "llama-server never served two editors at once"


async def test_engine_killed_and_restarted_under_the_lsp_server(
    private_llama_server: LlamaServer,
) -> None:
    server = private_llama_server.start()
    documents = iter(range(1000))

    async def ask() -> list[str]:
        """A new document each time, so no cached suggestion can answer for the engine."""
        n = next(documents)
        uri = f"file:///work/demo/stats{n}.py"
        open_doc(client, f"# revision {n}\n" + SOURCE, uri)
        return await inline(client, uri, types.Position(BODY.line + 1, BODY.character))

    # Prefetch stays on: an error that a prefetch meets is raised on the next request.
    options = {"backend": "llama-server", "url": server.url}
    async with lsp_client(options) as client:
        assert (await wait_state(client))["state"] == "ready"
        assert (await ask())[0].strip()

        server.kill()
        assert await ask() == []
        assert await ask() == []
        errors = [m.message for m in client.messages if m.type == types.MessageType.Error]
        # The request that meets the outage says how (refused, or dropped mid-stream by a prefetch).
        assert len(errors) == 1 and ("cannot be reached" in errors[0] or "dropped" in errors[0]), errors

        server.start()
        texts: list[str] = []
        end = time.monotonic() + 60
        while not texts and time.monotonic() < end:
            texts = await ask()
            await asyncio.sleep(0.2)
        assert texts and texts[0].strip()
        assert len([m for m in client.messages if m.type == types.MessageType.Error]) == 1
