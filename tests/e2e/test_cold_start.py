"""No cold wait where it can be avoided, through the real server and model: the head of a newly
opened document's prompt is evaluated before the first request (prewarm), the KV state of a
document survives a restart (engine/kv_store.py), and a request that would evaluate more than its
cold budget gets a smaller window, the full one grown after it (completion/cold.py). Evidence from the server's own counts
(``fimLsp/stats``: prompt tokens reused from the KV cache), never from a clock.

Each test starts its servers itself, with ``FIM_LSP_CACHE`` in a temporary directory (the test
model linked into it), so no state from another run or test is on disk.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import MODEL, server_command, start_as
from lsp_helpers import invoked_run, plain, wait_state
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities, make_test_lsp_client

from lsp_server import models

pytestmark = pytest.mark.model

QUIET = {"prefetch": False, "speculate": False}
# An ordinary module: about 300 tokens of functions, the cursor in the last one's body.
TEXT = '"""Shapes and their areas."""\n\nimport math\n\n' + "".join(
    f"def area_{i}(r):\n    \"\"\"The area of shape {i}.\"\"\"\n    return math.pi * r * {i}\n\n\n" for i in range(10)
) + "def perimeter(r):\n    \n"
CURSOR = types.Position(TEXT.count("\n") - 1, 4)


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    """A cache directory of the test's own, holding the test model."""
    model = models.local_path(MODEL)
    assert model is not None
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / model.name).symlink_to(model)
    return tmp_path


@asynccontextmanager
async def server(cache: Path, name: str | None = None, **settings: Any) -> AsyncIterator[LanguageClient]:
    client = make_test_lsp_client()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "FIM_LSP_CACHE": str(cache)}
    await client.start_io(*server_command(), env=env)
    try:
        # The store on, as by default (the other e2e tests turn it off), unless the test says.
        await start_as(client, client_capabilities("neovim"), name, **QUIET, **{"kvStoreFiles": 8, **settings})
        assert (await wait_state(client))["state"] == "ready"
        yield client
    finally:
        await client.shutdown_session()  # the server saves the KV state it holds on exit
        await client.stop()


async def _stats(client: LanguageClient) -> dict[str, Any]:
    return dict(plain(await client.protocol.send_request_async("fimLsp/stats", None)))


async def _wait_prewarmed(client: LanguageClient, count: int, timeout: float = 300) -> dict[str, Any]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        stats = await _stats(client)
        if stats["prewarmed"] >= count:
            return stats
        await asyncio.sleep(0.2)
    raise TimeoutError("the prewarm never finished")


async def _wait_grown(client: LanguageClient, timeout: float = 300) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if (await _stats(client))["grown"]:
            return
        await asyncio.sleep(0.2)
    raise TimeoutError("the full window never grew")


def _open(client: LanguageClient, uri: str, text: str = TEXT) -> None:
    client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "python", 1, text)))


async def test_the_first_request_after_open_finds_the_file_head_evaluated(cache: Path) -> None:
    """Without a prewarm the first request reuses nothing (see the restart test's first server)."""
    async with server(cache, kvStoreFiles=0) as client:
        start = await _stats(client)
        _open(client, "file:///work/demo/shapes.py")
        stats = await _wait_prewarmed(client, 1)
        warm = await invoked_run(client, "file:///work/demo/shapes.py", CURSOR)
    head = stats["nPrompt"] - start["nPrompt"]  # the prewarm's tokens (the stats add up every run)
    assert head > 200 and warm["nReused"] >= head - 4, (head, warm)
    assert warm["nPrompt"] - warm["nReused"] < warm["nPrompt"] // 3, warm  # the suffix is all that is left


async def test_a_restarted_server_answers_from_the_kv_state_it_saved(cache: Path) -> None:
    uri = "file:///work/demo/shapes.py"
    async with server(cache, prewarm=False) as client:
        _open(client, uri)
        before = await invoked_run(client, uri, CURSOR)
    assert before["nReused"] <= 2 and len(list((cache / "kv").glob("*.kv"))) == 1
    async with server(cache, prewarm=False) as client:
        _open(client, uri)
        after = await invoked_run(client, uri, CURSOR)
    assert after["nPrompt"] == before["nPrompt"] and after["nReused"] >= after["nPrompt"] - 2, (before, after)
    async with server(cache, prewarm=False, nCtx=1024) as client:  # another engine setting: not its state
        _open(client, uri)
        other = await invoked_run(client, uri, CURSOR)
    assert other["nReused"] <= 2, other


# A module whose last function lies past the first prefix window: the head a prewarm evaluates on
# opening it and the prompt at its cursor share only the file's first lines.
LONG = TEXT.replace("def perimeter(r):\n    \n", "") + "".join(
    f"def volume_{i}(r, h):\n    \"\"\"The volume of solid {i}.\"\"\"\n    return area_{i % 10}(r) * h / {i + 1}\n\n\n"
    for i in range(30)
) + "def perimeter(r):\n    \n"
LONG_CURSOR = types.Position(LONG.count("\n") - 1, 4)


async def test_a_reopened_file_is_answered_from_its_stored_state_with_prewarm_on(cache: Path) -> None:
    """Prewarm on, as by default: opening the file again starts a prewarm of its head before the
    request at the cursor; the state saved at the cursor must still serve that request."""
    uri = "file:///work/demo/solids.py"
    async with server(cache) as client:
        _open(client, uri, LONG)
        await _wait_prewarmed(client, 1)
        before = await invoked_run(client, uri, LONG_CURSOR)
    assert before["nReused"] < before["nPrompt"] // 2, before  # the head did not serve the cursor
    async with server(cache) as client:
        _open(client, uri, LONG)
        await _wait_prewarmed(client, 1)
        after = await invoked_run(client, uri, LONG_CURSOR)
    assert after["nPrompt"] == before["nPrompt"] and after["nReused"] >= after["nPrompt"] - 2, (before, after)


async def test_a_cold_request_gets_a_small_window_and_the_next_one_the_full_window(cache: Path) -> None:
    """A 100 ms cold budget: far less than the ~300-token prompt takes on a CPU. The full window
    is evaluated in the background after the answer (a prewarm), and the next request, one
    character typed, evaluates only that."""
    uri = "file:///work/demo/shapes.py"
    async with server(cache, prewarm=False, kvStoreFiles=0, coldBudgetMs=100) as client:
        _open(client, uri)
        cold = await invoked_run(client, uri, CURSOR)
        await _wait_grown(client)
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(version=2, uri=uri),
            [types.TextDocumentContentChangePartial(types.Range(CURSOR, CURSOR), "r")]))  # fmt: skip
        warm = await invoked_run(client, uri, types.Position(CURSOR.line, CURSOR.character + 1))
        stats = await _stats(client)
    assert cold["cold"] == "window" and warm["cold"] == "" and stats["coldWindows"] == stats["grown"] == 1, (cold, warm)
    assert cold["nPrompt"] < warm["nPrompt"] * 0.6, (cold, warm)
    assert warm["nReused"] >= warm["nPrompt"] - 4, warm


async def test_the_cursor_a_client_reports_is_warm_before_the_first_request(cache: Path) -> None:
    """A client that says where the cursor rests (``fimLsp/cursor``: the VS Code and Neovim
    clients do) has the full window there evaluated before the first request. The cold budget is
    far below what the prompt costs, so without it the request would get the cold window (as in
    the test above); with it, the request evaluates only the last prompt tokens."""
    uri = "file:///work/demo/solids.py"
    async with server(cache, kvStoreFiles=0, coldBudgetMs=100) as client:
        _open(client, uri, LONG)
        head = await _wait_prewarmed(client, 1)  # the file's start, on opening it
        client.protocol.notify("fimLsp/cursor", {"textDocument": {"uri": uri},
                                                 "position": {"line": LONG_CURSOR.line, "character": LONG_CURSOR.character}})
        at_cursor = await _wait_prewarmed(client, 2)
        warm = await invoked_run(client, uri, LONG_CURSOR)
    assert at_cursor["nPrompt"] - head["nPrompt"] > 300, (head, at_cursor)  # the window at the cursor
    # "first": a document's first answer is still cut short (cold.py), but its window is whole.
    assert warm["cold"] == "first" and warm["nReused"] >= warm["nPrompt"] - 4, warm


async def test_a_cursor_at_a_bad_position_or_in_an_unknown_file_is_ignored(cache: Path) -> None:
    uri = "file:///work/demo/shapes.py"
    async with server(cache, prewarm=False, kvStoreFiles=0) as client:
        _open(client, uri)
        client.protocol.notify("fimLsp/cursor", {"textDocument": {"uri": uri}, "position": {"line": 999, "character": 0}})
        client.protocol.notify("fimLsp/cursor", {"textDocument": {"uri": "file:///nowhere.py"},
                                                 "position": {"line": 0, "character": 0}})
        client.protocol.notify("fimLsp/cursor", {"position": None})
        answer = await invoked_run(client, uri, CURSOR)  # the server still answers
        stats = await _stats(client)
    assert stats["prewarmed"] == 0 and answer["nReused"] <= 2, (stats, answer)


def _highlight(client: LanguageClient, uri: str, position: types.Position) -> Any:
    return client.text_document_document_highlight_async(
        types.DocumentHighlightParams(types.TextDocumentIdentifier(uri), position))


async def test_a_hover_or_highlight_at_a_resting_cursor_warms_it_like_a_cursor_report(cache: Path) -> None:
    """eglot (the name its clientInfo gives) asks for the hover and the highlights under the
    cursor when it rests: the server answers none and evaluates the prompt there, as for
    ``fimLsp/cursor`` (tests/test_cursor_requests.py: one right after an edit is ignored)."""
    uri = "file:///work/demo/solids.py"
    async with server(cache, "Eglot", kvStoreFiles=0, coldBudgetMs=100) as client:
        caps = client.initialize_result.capabilities
        assert caps.hover_provider and caps.document_highlight_provider
        _open(client, uri, LONG)
        head = await _wait_prewarmed(client, 1)
        assert await client.text_document_hover_async(types.HoverParams(types.TextDocumentIdentifier(uri), LONG_CURSOR)) is None
        at_cursor = await _wait_prewarmed(client, 2)
        assert list(await _highlight(client, uri, LONG_CURSOR)) == []  # the same cursor: already warm
        warm = await invoked_run(client, uri, LONG_CURSOR)
    assert at_cursor["nPrompt"] - head["nPrompt"] > 300, (head, at_cursor)
    assert warm["cold"] == "first" and warm["nReused"] >= warm["nPrompt"] - 4, warm


@pytest.mark.parametrize("name", ["Visual Studio Code", "Neovim"])
async def test_clients_that_report_the_cursor_themselves_are_offered_no_hover(cache: Path, name: str) -> None:
    """VS Code hovers where the mouse is; our VS Code and Neovim clients send ``fimLsp/cursor``."""
    async with server(cache, name, prewarm=False, kvStoreFiles=0) as client:
        caps = client.initialize_result.capabilities
        assert not caps.hover_provider and not caps.document_highlight_provider
