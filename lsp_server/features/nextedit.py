"""LSP glue of next-edit suggestions: ``fimLsp/inlineEdit`` and, for clients written for
Copilot, ``textDocument/copilotInlineEdit``.

Params ``{textDocument: {uri, version}, position}``; result ``{edits: [{text, textDocument,
range}]}`` (Copilot's shape; its telemetry ``command`` is left out: nothing here needs to hear
about an accepted edit). A request for a version that is not the current one, or whose document
changed while the model ran, gets no edits, as a stale completion does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from lsp_server.documents import DocumentStore, PositionError, Snapshot
from lsp_server.nextedit.edits import TextEdit
from lsp_server.nextedit.service import NextEditQuery, NextEditService

log = logging.getLogger(__name__)

INLINE_EDIT = "fimLsp/inlineEdit"
COPILOT_INLINE_EDIT = "textDocument/copilotInlineEdit"
NO_EDITS: dict[str, object] = {"edits": []}


def _field(obj: Any, name: str) -> Any:
    """A field of params pygls hands over as a namedtuple (custom methods) or a dict."""
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


class NextEditFeature:
    def __init__(self, service: NextEditService, documents: DocumentStore, encoding: Callable[[], str],
                 relative: Callable[[str], str]) -> None:
        self.service = service
        self._documents = documents
        self._encoding = encoding
        self._relative = relative

    def changed(self, old: Snapshot, new: Snapshot, whole: bool) -> None:
        self.service.changed(old, new, whole)

    def forget(self, uri: str) -> None:
        self.service.forget(uri)

    def yield_to_completion(self) -> None:
        self.service.yield_to_completion()

    async def inline_edit(self, params: Any) -> dict[str, object]:
        document, position = _field(params, "textDocument"), _field(params, "position")
        uri, version = _field(document, "uri"), _field(document, "version")
        doc = self._documents.get(uri) if isinstance(uri, str) else None
        if doc is None or position is None or (version is not None and version != doc.version):
            return NO_EDITS
        encoding = self._encoding()
        try:
            cursor = doc.offset_at(int(_field(position, "line")), int(_field(position, "character")), encoding)
        except (PositionError, TypeError, ValueError) as err:
            log.warning("next edit at a bad position in %s: %s", uri, err)
            return NO_EDITS
        found = await self.service.suggest(NextEditQuery(doc, cursor, self._relative))
        current = self._documents.get(uri)
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
