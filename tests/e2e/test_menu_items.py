"""The completion-menu fallback over the real protocol, shaped for each kind of client
(conftest.MENU_CLIENTS: vim-lsp, eglot, Neovim)."""

from __future__ import annotations

import re

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

pytestmark = pytest.mark.model

URI = "file:///work/demo/strip.py"
SOURCE = '''import re


def strip_comments(source, preprocessor=None):
    """Remove comments from source, after running the preprocessor if one is given."""
    if pre
    return re.sub(r"#.*", "", source)
'''
TYPED = types.Position(line=5, character=10)  # after `    if pre`
WORD_START = 7


def open_doc(client: LanguageClient, text: str) -> None:
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        types.TextDocumentItem(uri=URI, language_id="python", version=1, text=text)))


async def complete(client: LanguageClient, position: types.Position) -> list[types.CompletionItem]:
    result = await client.text_document_completion_async(
        types.CompletionParams(text_document=types.TextDocumentIdentifier(URI), position=position))
    assert isinstance(result, types.CompletionList)
    return list(result.items)


def unescape(snippet: str) -> str:
    return re.sub(r"\\([\\$}])", r"\1", snippet)


async def test_an_item_after_a_typed_word_replaces_the_word(menu_client: LanguageClient) -> None:
    client = menu_client
    open_doc(client, SOURCE)
    items = await complete(client, TYPED)
    assert len(items) == 1
    item = items[0]
    edit = item.text_edit
    assert isinstance(edit, types.TextEdit)
    # eglot 1.9 applies the typed word twice when the edit starts at the cursor.
    assert edit.range == types.Range(types.Position(TYPED.line, WORD_START), TYPED)
    snippet = item.insert_text_format == types.InsertTextFormat.Snippet
    assert snippet == (client.kind == "neovim")  # type: ignore[attr-defined]
    text = unescape(edit.new_text) if snippet else edit.new_text
    assert text.startswith("pre") and len(text) > len("pre")
    # vim-lsp drops items whose filterText does not start with the typed word; Neovim inserts
    # the label of a snippet item as the word, so it is the edited line's text.
    assert item.filter_text is not None and item.filter_text.startswith("pre")
    assert item.label == text.split("\n", 1)[0]
    line = "    if " + text.split("\n", 1)[0]
    print(f"{client.kind}: {line!r}")  # type: ignore[attr-defined]
    assert not line.startswith("    if prepre")


LOOP_SOURCE = "def total(values):\n    result = 0\n    for\n    return result\n"
LOOP_URI = "file:///work/demo/total.py"
AFTER_FOR = types.Position(line=2, character=7)


async def test_a_multi_line_suggestion_is_one_line_for_one_line_clients(menu_client: LanguageClient) -> None:
    client = menu_client
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        types.TextDocumentItem(uri=LOOP_URI, language_id="python", version=1, text=LOOP_SOURCE)))
    inline = await client.text_document_inline_completion_async(types.InlineCompletionParams(
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
        text_document=types.TextDocumentIdentifier(LOOP_URI), position=AFTER_FOR))
    suggestion = inline.items[0].insert_text if inline.items else ""
    assert isinstance(suggestion, str) and "\n" in suggestion.strip()  # what the model writes here
    result = await client.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(LOOP_URI), position=AFTER_FOR))
    assert isinstance(result, types.CompletionList) and len(result.items) == 1
    item = result.items[0]
    assert isinstance(item.text_edit, types.TextEdit)
    assert item.text_edit.range == types.Range(types.Position(2, 4), AFTER_FOR)
    new_text = item.text_edit.new_text
    first = "for" + suggestion.split("\n", 1)[0]
    assert item.label == item.filter_text == first
    if client.kind == "vim-lsp":  # type: ignore[attr-defined]
        # Vim writes the "\n" of a completion word into the file as a NUL byte: one line only.
        assert new_text == first and item.insert_text_format != types.InsertTextFormat.Snippet
    elif client.kind == "eglot":  # type: ignore[attr-defined]
        assert new_text == "for" + suggestion and item.insert_text_mode == types.InsertTextMode.AsIs
    else:  # Neovim expands the snippet, indenting each line after the first like the cursor line
        assert item.insert_text_format == types.InsertTextFormat.Snippet
        assert unescape(new_text).replace("\n", "\n    ") == "for" + suggestion
    for text in (item.label, item.filter_text, item.insert_text or ""):
        assert "\n" not in text and "\0" not in text
