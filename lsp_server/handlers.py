"""The only @server.feature sites. Each handler is a few lines that forward to the server's
lifecycle or to a feature (lsp_server/features/)."""

from __future__ import annotations

from typing import Any

from lsprotocol import types

from lsp_server.features.completion import CURSOR_NOTIFICATION, CompletionFeature
from lsp_server.features.nextedit import COPILOT_INLINE_EDIT, INLINE_EDIT, NextEditFeature
from lsp_server.items import TRIGGER_CHARACTERS
from lsp_server.server import STATS_REQUEST, FimServer


def register(server: FimServer) -> FimServer:
    completion = CompletionFeature(server)
    server.add_feature(completion)
    nextedit = NextEditFeature(server)
    server.add_feature(nextedit)

    def hover(ls: FimServer, params: types.HoverParams) -> None:
        completion.cursor_request(params.text_document.uri, params.position)

    def document_highlight(ls: FimServer, params: types.DocumentHighlightParams) -> list[types.DocumentHighlight]:
        completion.cursor_request(params.text_document.uri, params.position)
        return []

    @server.feature(types.INITIALIZE)
    def initialize(ls: FimServer, params: types.InitializeParams) -> None:
        ls.on_initialize(params)
        # Offered per client: pygls builds the capabilities after this handler returns.
        if completion.takes_cursor_requests(ls.client_name):
            for method, handler in ((types.TEXT_DOCUMENT_HOVER, hover),
                                    (types.TEXT_DOCUMENT_DOCUMENT_HIGHLIGHT, document_highlight)):
                if method not in ls.protocol.fm.features:
                    ls.feature(method)(handler)

    @server.feature(types.INITIALIZED)
    async def initialized(ls: FimServer, _params: types.InitializedParams) -> None:
        await ls.lifecycle.initialized()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: FimServer, params: types.DidChangeConfigurationParams) -> None:
        await ls.lifecycle.configuration_changed(params.settings)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: FimServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.did_open(params.text_document)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: FimServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.did_change(params)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: FimServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.did_close(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(
        ls: FimServer, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList:
        return await completion.inline_completion(params)

    @server.feature(types.TEXT_DOCUMENT_COMPLETION,
                    types.CompletionOptions(trigger_characters=list(TRIGGER_CHARACTERS)))
    async def completion_menu(ls: FimServer, params: types.CompletionParams) -> types.CompletionList:
        return await completion.completion(params)

    @server.feature(CURSOR_NOTIFICATION)
    def cursor(ls: FimServer, params: Any) -> None:
        completion.cursor(params)

    @server.feature(INLINE_EDIT)
    async def inline_edit(ls: FimServer, params: Any) -> dict[str, object]:
        return await nextedit.inline_edit(params)

    @server.feature(COPILOT_INLINE_EDIT)
    async def copilot_inline_edit(ls: FimServer, params: Any) -> dict[str, object]:
        return await nextedit.inline_edit(params)

    @server.feature(STATS_REQUEST)
    def stats(ls: FimServer, _params: Any = None) -> dict[str, object]:
        return ls.stats()

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: FimServer, _params: Any = None) -> None:
        await ls.on_shutdown()

    return server
