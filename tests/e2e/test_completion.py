"""The real server over stdio with the real model, once per recorded client."""

from __future__ import annotations

import ast
import asyncio
import re
import time

import psutil
import pytest
from lsp_helpers import plain, send_raw, write_raw
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcRequestCancelled
from pytest_lsp import LanguageClient

pytestmark = pytest.mark.model

URI = "file:///work/demo/stats.py"
SOURCE = '''def mean(values):
    """Return the arithmetic mean of values."""
    return sum(values) / len(values)


def variance(values):
    """Return the population variance of values."""
    m = mean(values)
{indent}

if __name__ == "__main__":
    print(variance([1.0, 2.0, 3.0]))
'''.format(indent="    ")
BODY = types.Position(line=8, character=4)


def open_doc(client: LanguageClient, text: str = SOURCE, uri: str = URI, version: int = 1) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(types.TextDocumentItem(uri=uri, language_id="python", version=version, text=text))
    )


def inline_params(position: types.Position = BODY, uri: str = URI, invoked: bool = False) -> types.InlineCompletionParams:
    kind = types.InlineCompletionTriggerKind.Invoked if invoked else types.InlineCompletionTriggerKind.Automatic
    return types.InlineCompletionParams(
        context=types.InlineCompletionContext(trigger_kind=kind),
        text_document=types.TextDocumentIdentifier(uri),
        position=position,
    )


async def server_stats(client: LanguageClient) -> dict[str, object]:
    result = await client.protocol.send_request_async("fimLsp/stats", None)
    return result if isinstance(result, dict) else result._asdict()


def insert(text: str, position: types.Position, snippet: str) -> str:
    lines = text.split("\n")
    offset = sum(len(ln) + 1 for ln in lines[: position.line]) + position.character
    return text[:offset] + snippet + text[offset:]


async def test_inline_completion_in_a_function_body(client: LanguageClient) -> None:
    open_doc(client)
    result = await client.text_document_inline_completion_async(inline_params())
    assert isinstance(result, types.InlineCompletionList) and len(result.items) == 1
    item = result.items[0]
    assert isinstance(item.insert_text, str) and item.insert_text.strip()
    assert item.range == types.Range(BODY, BODY)
    completed = insert(SOURCE, BODY, item.insert_text)
    ast.parse(completed)  # the suggestion makes the file parse
    assert 'if __name__ == "__main__":' not in item.insert_text  # no echo of the suffix
    assert completed.count("def variance") == 1


LOOP = """def total(xs):
    \"\"\"Sum of xs.\"\"\"
    result = 0
    for x in xs:
        result += x
{indent}

print(total([1, 2]))
""".format(indent=" " * 8)


async def first_item(client: LanguageClient, text: str, uri: str, cursor: types.Position) -> types.InlineCompletionItem:
    """The first inline item at ``cursor`` in ``text``, opened as ``uri``; there must be one."""
    open_doc(client, text, uri)
    result = await client.text_document_inline_completion_async(inline_params(cursor, uri))
    assert isinstance(result, types.InlineCompletionList) and result.items
    return result.items[0]


async def test_a_suggestion_can_dedent_the_line_the_editor_indented(client: LanguageClient) -> None:
    # The editor kept the loop body's indentation after Enter; the function's last line belongs
    # one level further left, so the item replaces the whitespace before the cursor.
    cursor = types.Position(line=5, character=8)
    item = await first_item(client, LOOP, "file:///work/demo/loop.py", cursor)
    assert item.range is not None and item.range.end == cursor and item.range.start.character < 8
    assert isinstance(item.insert_text, str)
    lines = LOOP.split("\n")
    line = lines[5][: item.range.start.character] + item.insert_text
    completed = "\n".join([*lines[:5], *line.split("\n"), *lines[6:]])
    ast.parse(completed)
    assert "\n    return result\n" in completed


TRIED = """def parse_port(text: str) -> int:
    \"\"\"The port number in text, or 0 when it is not a number.\"\"\"
    try:
        port = int(text)
{indent}
        port = 0
    return port
""".format(indent=" " * 4)


async def test_a_line_the_user_dedented_to_is_completed_where_the_cursor_is(client: LanguageClient) -> None:
    # Backspace took the cursor from the try body (column 8) to column 4, above an indented line:
    # the suggestion starts at the cursor and opens that line's block, not another body line.
    cursor = types.Position(line=4, character=4)
    item = await first_item(client, TRIED, "file:///work/demo/port.py", cursor)
    assert item.range == types.Range(cursor, cursor)  # nothing before the cursor is replaced
    assert isinstance(item.insert_text, str) and item.insert_text == item.insert_text.lstrip()
    first = item.insert_text.split("\n")[0]
    assert re.match(r"(except|finally)\b.*:$", first), first
    ast.parse(insert(TRIED, cursor, item.insert_text))


async def test_invoked_request_may_offer_alternatives(client: LanguageClient) -> None:
    open_doc(client)
    result = await client.text_document_inline_completion_async(inline_params(invoked=True))
    assert isinstance(result, types.InlineCompletionList) and 1 <= len(result.items) <= 2
    texts = [i.insert_text for i in result.items]
    assert len(set(texts)) == len(texts)


def expand_snippet(snippet: str, indent: str) -> str:
    """What vim.snippet.expand inserts for a snippet without tabstops: unescaped, and each line
    after the first indented like the cursor line."""
    return re.sub(r"\\([\\$}])", r"\1", snippet).replace("\n", "\n" + indent)


async def test_completion_fallback(client: LanguageClient) -> None:
    open_doc(client)
    result = await client.text_document_completion_async(
        types.CompletionParams(text_document=types.TextDocumentIdentifier(URI), position=BODY)
    )
    assert isinstance(result, types.CompletionList) and len(result.items) == 1
    item = result.items[0]
    assert isinstance(item.text_edit, types.TextEdit)
    assert item.text_edit.range == types.Range(BODY, BODY)  # no word typed before the cursor
    assert item.insert_text_format == types.InsertTextFormat.Snippet  # both clients expand snippets
    suggestion = expand_snippet(item.text_edit.new_text, "    ")
    assert item.label == item.filter_text == suggestion.split("\n", 1)[0]
    ast.parse(insert(SOURCE, BODY, suggestion))


def type_text(client: LanguageClient, version: int, at: types.Position, text: str, end: types.Position | None = None) -> None:
    """Type ``text`` at ``at`` (replacing up to ``end`` when given)."""
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=URI, version=version),
            content_changes=[types.TextDocumentContentChangePartial(range=types.Range(at, end or at), text=text)],
        )
    )


async def test_keystrokes_start_the_completion_an_as_you_type_editor_will_ask_for(client: LanguageClient) -> None:
    open_doc(client)
    type_text(client, 2, BODY, "r")  # no automatic request yet: the server cannot know the editor wants one
    type_text(client, 3, BODY, "", types.Position(BODY.line, BODY.character + 1))  # and deletes it
    await asyncio.sleep(0.5)
    assert (await server_stats(client))["speculated"] == 0
    shown = await client.text_document_inline_completion_async(inline_params())
    assert shown.items
    typed = "result = "  # not the start of the suggestion above (else the cache answers it)
    assert isinstance(shown.items[0].insert_text, str) and not shown.items[0].insert_text.startswith(typed)
    type_text(client, 4, BODY, typed)
    for _ in range(600):
        stats = await server_stats(client)
        if stats["speculated"]:
            break
        await asyncio.sleep(0.1)
    assert stats["speculated"] == 1
    # The editor's request for that state, after its debounce, is answered without a model run.
    asked = await client.text_document_inline_completion_async(
        inline_params(types.Position(BODY.line, BODY.character + len(typed)))
    )
    after = await server_stats(client)
    assert asked.items and after["cacheHits"] == stats["cacheHits"] + 1
    assert after["completed"] == stats["completed"]


LONG_SOURCE = "\n".join(f"def helper_{i}(x):\n    return x * {i} + {i * 7} - len(str(x))\n" for i in range(60))
LONG_SOURCE += "\n\ndef main():\n    \n"
LONG_CURSOR = types.Position(line=LONG_SOURCE.count("\n") - 1, character=4)


async def test_cancelled_request_gets_the_cancel_error_quickly(client: LanguageClient) -> None:
    open_doc(client, LONG_SOURCE)
    params = inline_params(LONG_CURSOR)
    future = client.protocol.send_request(types.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id="slow-1")
    await asyncio.sleep(0.5)  # the ~600-token cold prompt takes several seconds on 2 cores
    started = time.monotonic()
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="slow-1"))
    with pytest.raises(JsonRpcRequestCancelled):
        await asyncio.wrap_future(future)
    assert time.monotonic() - started < 3.0
    after = await client.text_document_inline_completion_async(inline_params(LONG_CURSOR))
    assert isinstance(after, types.InlineCompletionList)
    stats = await server_stats(client)
    # The cancel reaches the job running (stopped at its next token: cancelled) or, when the
    # open's prewarm still holds the worker, the job still queued (dropped, never run).
    assert stats["cancelled"] + stats["dropped"] >= 1 and stats["completed"] >= 1


async def test_result_for_an_older_version_is_not_returned(client: LanguageClient) -> None:
    open_doc(client, LONG_SOURCE)
    pending = asyncio.ensure_future(client.text_document_inline_completion_async(inline_params(LONG_CURSOR)))
    await asyncio.sleep(0.3)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=URI, version=2),
            content_changes=[types.TextDocumentContentChangePartial(
                range=types.Range(LONG_CURSOR, LONG_CURSOR), text="r")],
        )
    )
    stale = await pending
    assert list(stale.items) == []
    fresh = await client.text_document_inline_completion_async(
        inline_params(types.Position(LONG_CURSOR.line, LONG_CURSOR.character + 1))
    )
    assert isinstance(fresh, types.InlineCompletionList)


async def test_bad_inputs_get_an_error_or_empty_result_and_the_server_stays_up(client: LanguageClient) -> None:
    open_doc(client)
    far = await client.text_document_inline_completion_async(inline_params(types.Position(9999, 0)))
    assert list(far.items) == []
    unknown = await client.text_document_inline_completion_async(inline_params(uri="file:///never/opened.py"))
    assert list(unknown.items) == []
    with pytest.raises(JsonRpcException):  # missing params: an error response, not a crash
        await send_raw(client, {"jsonrpc": "2.0", "id": "raw-1", "method": types.TEXT_DOCUMENT_INLINE_COMPLETION,
                                "params": {"position": {}}})
    await write_raw(client, b"{bad json")  # malformed JSON is logged and skipped
    ok = await client.text_document_inline_completion_async(inline_params())
    assert ok.items and ok.items[0].insert_text


async def test_thousand_changes_leave_memory_flat(client: LanguageClient) -> None:
    open_doc(client)
    assert client._server is not None
    proc = psutil.Process(client._server.pid)

    def change(version: int) -> None:
        pos = types.Position(8, 4 + (version % 2))
        edit = "x" if version % 2 == 0 else ""
        end = pos if version % 2 == 0 else types.Position(8, 4 + 1)
        start = pos if version % 2 == 0 else types.Position(8, 4)
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=URI, version=version),
            content_changes=[types.TextDocumentContentChangePartial(range=types.Range(start, end), text=edit)],
        ))

    for v in range(2, 202):  # warm-up
        change(v)
    # The prewarm that opening and the first change start runs the model: the weights it pages in
    # and the buffers it allocates are the model's, not the documents'. Measure after it ended.
    deadline = time.monotonic() + 120
    while (await server_stats(client))["prewarmed"] < 1 and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    before = proc.memory_info().rss
    for v in range(202, 1202):
        change(v)
    stats = await server_stats(client)
    grown = proc.memory_info().rss - before
    assert stats["pendingFutures"] <= 2, stats
    assert grown < 8 * 2**20, f"RSS grew {grown / 2**20:.1f} MiB over 1000 didChange"


async def test_shutdown_and_exit_leave_no_process(client: LanguageClient) -> None:
    assert client._server is not None
    pid = client._server.pid
    await client.shutdown_session()
    assert client._server.returncode == 0
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


WORD_SOURCE = '''import re


def strip_comments(source, preprocessor=None):
    """Remove comments from source, after running the preprocessor if one is given."""
    if pre
    return re.sub(r"#.*", "", source)
'''
AFTER_PRE = types.Position(line=5, character=10)  # after `    if pre`
WORD = types.Range(types.Position(line=5, character=7), AFTER_PRE)


def check_extends_selected(result: object, selected: str) -> list[str]:
    """Items that VS Code can show with the suggest widget open: over the item's range, starting
    with its text; what they insert parses as the line after the accepted item."""
    assert isinstance(result, types.InlineCompletionList) and result.items
    texts = []
    for item in result.items:
        assert item.range == WORD
        assert isinstance(item.insert_text, str) and item.insert_text.startswith(selected)
        assert item.insert_text[len(selected):].strip()
        texts.append(item.insert_text)
    return texts


async def test_suggest_widget_selection_as_vscode_sends_it(client: LanguageClient) -> None:
    """vscode-languageclient 9 sends selectedCompletionInfo.range as a [start, end] array."""
    open_doc(client, WORD_SOURCE)
    result = await send_raw(client, {
        "jsonrpc": "2.0", "id": "sel-1", "method": types.TEXT_DOCUMENT_INLINE_COMPLETION,
        "params": {"textDocument": {"uri": URI}, "position": {"line": 5, "character": 10},
                   "context": {"triggerKind": 1, "selectedCompletionInfo": {
                       "range": [{"line": 5, "character": 7}, {"line": 5, "character": 10}],
                       "text": "preprocessor"}}}})
    items = client.protocol._converter.structure(plain(result), types.InlineCompletionList)
    texts = check_extends_selected(items, "preprocessor")
    line = "    if " + texts[0].split("\n", 1)[0]
    assert line.startswith("    if preprocessor") and not line.startswith("    if preprocessorprocessor")
    print(f"ghost text with the widget open: {line!r}")


async def test_suggest_widget_selection_as_a_range_object(client: LanguageClient) -> None:
    open_doc(client, WORD_SOURCE)
    params = types.InlineCompletionParams(
        context=types.InlineCompletionContext(
            trigger_kind=types.InlineCompletionTriggerKind.Invoked,
            selected_completion_info=types.SelectedCompletionInfo(range=WORD, text="preprocessor")),
        text_document=types.TextDocumentIdentifier(URI), position=AFTER_PRE)
    check_extends_selected(await client.text_document_inline_completion_async(params), "preprocessor")


async def test_garbage_inline_params_get_an_error_and_the_server_stays_up(client: LanguageClient) -> None:
    for params in ([1, 2], "context", {"context": [0]}, {"context": {"triggerKind": 1, "selectedCompletionInfo": [1]}},
                   {"context": {"triggerKind": 1, "selectedCompletionInfo": {"range": [1], "text": "x"}}}):
        with pytest.raises(JsonRpcException):
            await send_raw(client, {"jsonrpc": "2.0", "id": "junk", "method": types.TEXT_DOCUMENT_INLINE_COMPLETION,
                                    "params": params})
    assert isinstance(await server_stats(client), dict)


async def test_invoked_request_waits_for_the_model_while_it_loads(loading_client: LanguageClient) -> None:
    client = loading_client
    open_doc(client)
    invoked = asyncio.ensure_future(client.text_document_inline_completion_async(inline_params(invoked=True)))
    cancelled = client.protocol.send_request(types.TEXT_DOCUMENT_INLINE_COMPLETION, inline_params(invoked=True),
                                             msg_id="invoked-cancelled")
    automatic = await client.text_document_inline_completion_async(inline_params())
    assert not any(s["state"] == "ready" for s in client.statuses)  # type: ignore[attr-defined]
    assert list(automatic.items) == []  # as you type: no waiting, the next keystroke asks again
    started = time.monotonic()
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="invoked-cancelled"))
    with pytest.raises(JsonRpcRequestCancelled):
        await asyncio.wrap_future(cancelled)
    assert time.monotonic() - started < 3.0
    result = await invoked  # the user pressed the key: answered once the model is there
    assert any(s["state"] == "ready" for s in client.statuses)  # type: ignore[attr-defined]
    assert result.items and isinstance(result.items[0].insert_text, str) and result.items[0].insert_text.strip()
