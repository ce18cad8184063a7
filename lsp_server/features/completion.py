"""The completion feature's LSP side: inline and menu completions, speculation as the user types."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from lsprotocol import types
from pygls.uris import to_fs_path

from lsp_server.completion import CompletionQuery, CompletionService
from lsp_server.documents import (
    PositionError,
    Snapshot,
    TextChange,
    column_to_index,
    index_to_column,
    typed_cursor,
)
from lsp_server.engine import EngineError
from lsp_server.items import (
    MenuCaps,
    MenuItem,
    SelectedItem,
    accept_selected,
    extend_selected,
    menu_caps,
    menu_item,
)
from lsp_server.postprocess import Suggestion
from lsp_server.server import FimServer
from lsp_server.server.protocol import param as _field

log = logging.getLogger(__name__)

# A client's notification of where the cursor rests (our VS Code and Neovim clients send it, a
# moment after the cursor stops): the full window there is evaluated before the user types.
CURSOR_NOTIFICATION = "fimLsp/cursor"

# Clients that ask about the symbol under the cursor when it rests tell us where it is without a
# plugin of ours: eglot asks for its hover and highlights half a second after each command (1.9
# only with a hover provider: it piggybacks the highlights on the hover), lsp-mode on idle too,
# vim-lsp highlights after a cursor move, ALE hovers on CursorHold. Each such request counts as a
# cursor report (`CURSOR_NOTIFICATION`). Offered only to these (clientInfo.name, lowercased; ""
# for none: eglot 1.9 sends none): VS Code hovers where the mouse is, and a prewarm there would
# evict the prompt the user types in; our VS Code and Neovim clients report the cursor themselves.
CURSOR_REQUEST_CLIENTS = frozenset({"", "eglot", "emacs", "vim-lsp", "ale"})
# A request this soon after the document changed is the user typing (eglot asks after
# keystrokes too): the completion requests warm that prompt already.
CURSOR_REQUEST_QUIET_S = 1.0

# The editor counts as completing as you type for this long after its last automatic request
# (in any document: it is a property of the editor); while it does, keystrokes start speculative
# completions (see CompletionService.speculate).
AS_YOU_TYPE_S = 300.0


class CompletionFeature:
    """`textDocument/inlineCompletion` and `textDocument/completion` over `CompletionService`."""

    def __init__(self, server: FimServer) -> None:
        self._server = server
        self.service = CompletionService(server.host, index=server.index)
        self._asked_as_you_type: float | None = None  # time of the editor's last automatic request
        self._unchanged: set[str] = set()  # documents opened and not changed since
        self._changed_at: dict[str, float] = {}  # time.monotonic() of each document's last change

    # -- documents (server.Feature) ----------------------------------------------------------

    def did_open(self, doc: Snapshot) -> None:
        if self._server.settings.prompt.repo_context:
            self._server.index.warm(doc.text, to_fs_path(doc.uri) or "")
        self._unchanged.add(doc.uri)
        if self._server.host.ready:
            self._prewarm(doc.uri, None)
        else:  # opened with the editor, before the model loaded: warm it once it has
            asyncio.ensure_future(self._prewarm_once_loaded(doc.uri))

    def did_change(self, uri: str, old: Snapshot | None, changes: list[TextChange]) -> None:
        # A newer version makes any running completion for this document stale: stop it now.
        self.service.cancel(uri)
        self._changed_at[uri] = time.monotonic()
        first = uri in self._unchanged
        self._unchanged.discard(uri)
        if old is not None:
            offset = typed_cursor(old, changes, self._server.encoding)
            if not self._speculate(uri, offset) and first and offset is not None:
                self._prewarm(uri, offset)

    def did_close(self, uri: str) -> None:
        self._unchanged.discard(uri)
        self._changed_at.pop(uri, None)
        self.service.forget(uri)

    def cursor(self, params: Any) -> None:
        """The cursor rests at a position (`CURSOR_NOTIFICATION`): evaluate the prompt a request
        there would have, so the first one after a file is opened or the cursor jumps is warm
        and gets the full window, not the cold one (cold.py). Anything running for the document
        goes on (`CompletionService.prewarm`); the latest document wins the KV cache."""
        document, position = _field(params, "textDocument"), _field(params, "position")
        uri = _field(document, "uri")
        if not isinstance(uri, str) or position is None:
            return
        try:
            line, character = int(_field(position, "line")), int(_field(position, "character"))
        except (TypeError, ValueError) as err:
            log.debug("cursor at a bad position in %s: %s", uri, err)
            return
        self._rest_at(uri, line, character)

    @staticmethod
    def takes_cursor_requests(client_name: str | None) -> bool:
        """Should the server offer hover and document highlights to this client, as cursor
        reports (`CURSOR_REQUEST_CLIENTS`)?"""
        return (client_name or "").lower() in CURSOR_REQUEST_CLIENTS

    def cursor_request(self, uri: str, position: types.Position) -> None:
        """A hover or highlight request where the cursor rests: no hover text and no highlights
        are offered (the other language servers' business), and the cursor is taken as reported
        (`cursor`), unless the document changed within `CURSOR_REQUEST_QUIET_S`."""
        changed = self._changed_at.get(uri)
        if changed is None or time.monotonic() - changed >= CURSOR_REQUEST_QUIET_S:
            self._rest_at(uri, position.line, position.character)

    def _rest_at(self, uri: str, line: int, character: int) -> None:
        doc = self._servable(uri)
        if doc is None:
            return
        try:
            offset = doc.offset_at(line, character, self._server.encoding)
        except PositionError as err:
            log.debug("cursor at a bad position in %s: %s", uri, err)
            return
        log.debug("the cursor rests in %s at %d:%d", uri, line, character)
        self._prewarm(uri, offset)

    def stats(self) -> dict[str, object]:
        return self.service.stats_json()

    def shutdown(self) -> None:
        self.service.shutdown()

    def _speculate(self, uri: str, offset: int | None) -> bool:
        """Start the completion the editor will ask for, if it asks as the user types; whether
        it does."""
        seen = self._asked_as_you_type
        if offset is None or seen is None or time.monotonic() - seen > AS_YOU_TYPE_S:
            return False
        doc = self._servable(uri)
        if doc is None:
            return False
        self.service.speculate(self._query_at(doc, offset, several=False))
        return True

    def _prewarm(self, uri: str, offset: int | None) -> None:
        """Evaluate the head of the document's first prompt: the file's start when ``offset``
        (the cursor) is not known yet, else the prompt at the cursor but the text typed there."""
        doc = self._servable(uri)
        if doc is not None:
            self.service.prewarm(self._query_at(doc, offset or 0, several=False), at_cursor=offset is not None)

    async def _prewarm_once_loaded(self, uri: str) -> None:
        if await self._server.lifecycle.ready(wait=True) and uri in self._unchanged:
            self._prewarm(uri, None)

    def _servable(self, uri: str) -> Snapshot | None:
        """The open document, when completion serves it now (enabled, loaded, its language on)."""
        settings = self._server.settings
        if not (settings.serving.enabled and self._server.host.ready):
            return None
        doc = self._server.documents.get(uri)
        if doc is None or doc.language_id in settings.serving.disabled_languages:
            return None
        return doc

    # -- queries ---------------------------------------------------------------------------------

    def _query(self, uri: str, position: types.Position, several: bool) -> CompletionQuery | None:
        doc = self._server.documents.get(uri)
        if doc is None:
            log.warning("completion for a document that is not open: %s", uri)
            return None
        if doc.language_id and doc.language_id in self._server.settings.serving.disabled_languages:
            return None
        try:
            offset = doc.offset_at(position.line, position.character, self._server.encoding)
        except PositionError as err:
            log.warning("completion at a bad position in %s: %s", uri, err)
            return None
        return self._query_at(doc, offset, several)

    def _query_at(self, doc: Snapshot, offset: int, several: bool) -> CompletionQuery:
        server = self._server
        # Other buffers only feed extraContext; with it off, a keystroke need not walk them.
        others = tuple((server.relative(d.uri), d.text) for d in reversed(server.documents.others(doc.uri))
                       if d.language_id == doc.language_id) if server.settings.prompt.extra_context else ()
        return CompletionQuery(doc, offset, server.relative(doc.uri), server.root.name if server.root else "",
                               several, others, to_fs_path(doc.uri) or "")

    async def suggest(self, uri: str, position: types.Position, several: bool, wait: bool = False) -> list[Suggestion]:
        """Suggestions for a position; [] when disabled, not ready, stale or failing.

        ``wait``: the user asked (an Invoked request), so wait for a model still loading.
        """
        if not await self._server.lifecycle.ready(wait):
            return []
        query = self._query(uri, position, several)
        return await self._complete(query) if query is not None else []

    async def _complete(self, query: CompletionQuery) -> list[Suggestion]:
        uri = query.snapshot.uri
        try:
            texts = await self.service.complete(query)
        except EngineError as err:
            self._server.lifecycle.show_once(f"fim-lsp: {err.user_message()}")
            return []
        current = self._server.documents.get(uri)
        if current is None or current.version != query.snapshot.version:
            log.debug("dropping a result for %s v%s (now v%s)", uri, query.snapshot.version,
                      current.version if current else None)
            return []
        return texts

    # -- inline completion -----------------------------------------------------------------------

    async def inline_completion(self, params: types.InlineCompletionParams) -> types.InlineCompletionList:
        invoked = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
        if not invoked:
            self._asked_as_you_type = time.monotonic()
        uri, position = params.text_document.uri, params.position
        selected = params.context.selected_completion_info
        if selected is not None:
            rng, texts = await self._suggest_after_selected(uri, position, selected, invoked)
            items = [types.InlineCompletionItem(insert_text=t, range=rng) for t in texts]
        else:
            found = await self.suggest(uri, position, invoked, wait=invoked)
            items = [_inline_item(s, position) for s in found]
        return types.InlineCompletionList(items=items)

    async def _suggest_after_selected(
        self, uri: str, position: types.Position, selected: types.SelectedCompletionInfo, invoked: bool
    ) -> tuple[types.Range, list[str]]:
        """While a completion menu has an item selected, complete as if it were accepted, and
        extend it: VS Code shows only inline items that start with the selected item's edit.
        (The user is typing a word there, so no suggestion replaces text before the cursor.)"""
        cursor = types.Range(position, position)
        if not await self._server.lifecycle.ready(invoked):
            return cursor, []
        query = self._query(uri, position, invoked)
        if query is None:
            return cursor, []
        doc, enc = query.snapshot, self._server.encoding
        rng = selected.range
        try:
            item = SelectedItem(doc.offset_at(rng.start.line, rng.start.character, enc),
                                doc.offset_at(rng.end.line, rng.end.character, enc), selected.text)
        except PositionError:
            item = None
        accepted = accept_selected(doc.text, query.offset, item) if item is not None else None
        if item is None or accepted is None:
            log.debug("selected item %r at %s does not end at the cursor: only filtering", selected.text, rng)
            texts = _insertions(await self._complete(query))
            return cursor, [t for t in texts if t.startswith(selected.text)]
        text, offset = accepted
        after = Snapshot(doc.uri, text, doc.version, doc.language_id)
        texts = _insertions(await self._complete(self._query_at(after, offset, invoked)))
        return rng, extend_selected(texts, item)

    # -- the completion menu -----------------------------------------------------------------------

    async def completion(self, params: types.CompletionParams) -> types.CompletionList:
        # Completion sources (nvim-cmp, blink) ask as the user types, whatever trigger they report.
        self._asked_as_you_type = time.monotonic()
        uri, position = params.text_document.uri, params.position
        found = await self.suggest(uri, position, several=False)
        doc = self._server.documents.get(uri)
        if not found or doc is None:
            return types.CompletionList(is_incomplete=True, items=[])
        line = doc.line_text(position.line)
        before = line[: column_to_index(line, position.character, self._server.encoding)]
        caps, markdown = self._menu_caps()
        items = []
        for s in found:
            item = menu_item(s.text, before, caps, s.replace)
            if item is not None:
                items.append(completion_item(item, before, position, s.text, markdown, self._server.encoding))
        return types.CompletionList(is_incomplete=True, items=items)

    def _menu_caps(self) -> tuple[MenuCaps, bool]:
        """How the client inserts items, and whether it renders markdown documentation."""
        td = self._server.client_capabilities.text_document
        item = td.completion.completion_item if td and td.completion else None
        markdown = bool(item and item.documentation_format and types.MarkupKind.Markdown in item.documentation_format)
        return menu_caps(self._server.client_name, item.snippet_support if item else None), markdown


def completion_item(item: MenuItem, before: str, position: types.Position, text: str, markdown: bool,
                    encoding: str) -> types.CompletionItem:
    """The menu item as LSP: its edit from ``item.start`` (an index into ``before``, the cursor
    line's text left of the cursor) to the cursor."""
    start = types.Position(position.line, index_to_column(before, item.start, encoding))
    doc = types.MarkupContent(kind=types.MarkupKind.Markdown, value=f"```\n{text}\n```") if markdown else text
    return types.CompletionItem(
        label=item.label,
        kind=types.CompletionItemKind.Snippet,
        detail="fim-lsp",
        documentation=doc,
        text_edit=types.TextEdit(range=types.Range(start, position), new_text=item.new_text),
        insert_text_format=(types.InsertTextFormat.Snippet if item.snippet else types.InsertTextFormat.PlainText),
        insert_text_mode=(types.InsertTextMode.AsIs if item.multiline else
                          types.InsertTextMode.AdjustIndentation if item.snippet else None),
        sort_text="0",
        filter_text=item.filter_text,
    )


def _insertions(found: list[Suggestion]) -> list[str]:
    """The suggestions that only insert at the cursor."""
    return [s.text for s in found if not s.replace]


def _inline_item(found: Suggestion, position: types.Position) -> types.InlineCompletionItem:
    """Ghost text at the cursor; a dedent replaces the whitespace before it (ASCII, so the
    count is the same in every position encoding)."""
    start = types.Position(position.line, max(0, position.character - found.replace))
    return types.InlineCompletionItem(insert_text=found.text, range=types.Range(start, position))
