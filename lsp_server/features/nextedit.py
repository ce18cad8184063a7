"""LSP glue of next-edit suggestions: ``fimLsp/inlineEdit`` and, for clients written for
Copilot, ``textDocument/copilotInlineEdit``.

Params ``{textDocument: {uri, version}, position}``; result ``{edits: [{text, textDocument,
range}]}`` (Copilot's shape; its telemetry ``command`` is left out: nothing here needs to hear
about an accepted edit). A request for a version that is not the current one, or whose document
changed while the model ran, gets no edits, as a stale completion does.
"""

from __future__ import annotations

import logging
from typing import Any

from lsp_server.documents import PositionError, Snapshot, TextChange
from lsp_server.nextedit.edits import TextEdit
from lsp_server.nextedit.service import NextEditQuery, NextEditService
from lsp_server.server import FimServer
from lsp_server.server.protocol import param as _field

log = logging.getLogger(__name__)

INLINE_EDIT = "fimLsp/inlineEdit"
COPILOT_INLINE_EDIT = "textDocument/copilotInlineEdit"
NO_EDITS: dict[str, object] = {"edits": []}


class NextEditFeature:
    """`fimLsp/inlineEdit` and `textDocument/copilotInlineEdit` over `NextEditService`."""

    def __init__(self, server: FimServer) -> None:
        self._server = server
        self.service = NextEditService(server.host, server.host.worker)

    # -- documents (server.Feature) ----------------------------------------------------------

    def did_open(self, doc: Snapshot) -> None:
        pass

    def did_change(self, uri: str, old: Snapshot | None, changes: list[TextChange]) -> None:
        new = self._server.documents.get(uri)
        if old is not None and new is not None:
            self.service.changed(old, new, whole=any(c.range is None for c in changes))
        else:
            self.service.forget(uri)  # a change that could not be applied: positions are unknown

    def did_close(self, uri: str) -> None:
        self.service.forget(uri)

    def stats(self) -> dict[str, object]:
        return {}

    def shutdown(self) -> None:
        self.service.yield_to_completion()

    # -- requests ----------------------------------------------------------------------------

    async def inline_edit(self, params: Any) -> dict[str, object]:
        document, position = _field(params, "textDocument"), _field(params, "position")
        uri, version = _field(document, "uri"), _field(document, "version")
        doc = self._server.documents.get(uri) if isinstance(uri, str) else None
        if doc is None or position is None or (version is not None and version != doc.version):
            return NO_EDITS
        encoding = self._server.encoding
        try:
            cursor = doc.offset_at(int(_field(position, "line")), int(_field(position, "character")), encoding)
        except (PositionError, TypeError, ValueError) as err:
            log.warning("next edit at a bad position in %s: %s", uri, err)
            return NO_EDITS
        found = await self.service.suggest(NextEditQuery(doc, cursor, self._server.relative))
        current = self._server.documents.get(uri)
        if current is None or current.version != doc.version:
            return NO_EDITS
        return {"edits": [_edit_json(doc, e, encoding) for e in found.edits]}


def _position(doc: Snapshot, offset: int, encoding: str) -> dict[str, int]:
    line, character = doc.position_at(offset, encoding)
    return {"line": line, "character": character}


def _edit_json(doc: Snapshot, edit: TextEdit, encoding: str) -> dict[str, object]:
    return {
        "text": edit.text,
        "textDocument": {"uri": doc.uri, "version": doc.version},
        "range": {"start": _position(doc, edit.start, encoding), "end": _position(doc, edit.end, encoding)},
    }
