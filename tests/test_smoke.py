"""Smoke: the server imports, initializes, and reports a bad model once while staying up."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator

import pytest_lsp
from lsp_helpers import send_raw
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "lsp_server"]))
async def client(lsp_client: LanguageClient) -> AsyncIterator[LanguageClient]:
    caps = client_capabilities("visual_studio_code")
    result = await lsp_client.initialize_session(
        types.InitializeParams(capabilities=caps, initialization_options={"model": "/nonexistent/model.gguf",
                                                                          "maxTokens": "many"})
    )
    lsp_client.init_result = result  # type: ignore[attr-defined]
    yield lsp_client
    await lsp_client.shutdown_session()


async def _messages(client: LanguageClient, count: int, timeout: float = 20) -> list[str]:
    for _ in range(int(timeout * 10)):
        if len(client.messages) >= count:
            break
        await asyncio.sleep(0.1)
    return [m.message for m in client.messages]


async def test_capabilities_and_one_clear_error(client: LanguageClient) -> None:
    caps = client.init_result.capabilities  # type: ignore[attr-defined]
    assert caps.inline_completion_provider is not None
    assert caps.completion_provider is not None
    assert set(caps.completion_provider.trigger_characters) >= {".", "("}  # so autotrigger can fire
    assert caps.text_document_sync is not None
    messages = await _messages(client, 2)
    assert any("maxTokens" in m for m in messages), messages  # the bad setting, reported
    assert any("model file not found" in m for m in messages), messages  # the missing model, with what to do
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        types.TextDocumentItem(uri="file:///t.py", language_id="python", version=1, text="x = ")))
    result = await client.text_document_inline_completion_async(types.InlineCompletionParams(
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
        text_document=types.TextDocumentIdentifier("file:///t.py"), position=types.Position(0, 4)))
    assert list(result.items) == []
    await client.text_document_inline_completion_async(types.InlineCompletionParams(
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
        text_document=types.TextDocumentIdentifier("file:///t.py"), position=types.Position(0, 4)))
    errors = [m for m in await _messages(client, 2) if "model file not found" in m]
    assert len(errors) == 1  # once, not per keystroke
    reports = [r for token in client.progress_reports.values() for r in token]
    assert isinstance(reports[0], types.WorkDoneProgressBegin) and "loading" in reports[0].title
    assert isinstance(reports[-1], types.WorkDoneProgressEnd) and "failed" in (reports[-1].message or "")


async def test_configuration_change_with_null_settings_repulls(client: LanguageClient) -> None:
    client.set_configuration({"model": "/another/missing.gguf"}, section="fimLsp")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    for _ in range(100):
        if any("/another/missing.gguf" in m for m in await _messages(client, 3, timeout=0.1)):
            break
        await asyncio.sleep(0.1)
    assert any("/another/missing.gguf" in m for m in [m.message for m in client.messages])


async def test_vscode_zero_based_trigger_kind_is_accepted(client: LanguageClient) -> None:
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        types.TextDocumentItem(uri="file:///z.py", language_id="python", version=1, text="x = ")))
    result = await send_raw(client, {
        "jsonrpc": "2.0", "id": "tk-0", "method": types.TEXT_DOCUMENT_INLINE_COMPLETION,
        "params": {"textDocument": {"uri": "file:///z.py"}, "position": {"line": 0, "character": 4},
                   "context": {"triggerKind": 0}}})
    assert result is not None


async def test_utf8_position_encoding_is_negotiated() -> None:
    from pygls.lsp.client import LanguageClient as PlainClient

    client = PlainClient("utf8-probe", "1")
    await client.start_io(sys.executable, "-m", "lsp_server", "--model", "/nonexistent.gguf")
    try:
        caps = types.ClientCapabilities(general=types.GeneralClientCapabilities(
            position_encodings=[types.PositionEncodingKind.Utf8, types.PositionEncodingKind.Utf16]))
        result = await client.initialize_async(types.InitializeParams(capabilities=caps))
        assert result.capabilities.position_encoding == types.PositionEncodingKind.Utf8
        await client.shutdown_async(None)
        client.exit(None)
    finally:
        await client.stop()
