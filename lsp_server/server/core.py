"""`FimServer`: the documents, the workspace, the shared engine host, and the features it serves."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from lsp_server import __version__
from lsp_server.config import Settings, SettingsSources
from lsp_server.documents import (
    UTF8,
    UTF16,
    UTF32,
    DocumentStore,
    PositionError,
    Snapshot,
    TextChange,
)
from lsp_server.engine.host import EngineHost
from lsp_server.server.lifecycle import Lifecycle
from lsp_server.server.protocol import FimProtocol, pending_requests
from lsp_server.server.serving import ServeLoop
from lsp_server.workspace import WorkspaceIndex

log = logging.getLogger(__name__)

STATS_REQUEST = "fimLsp/stats"


class Feature(Protocol):
    """What the server tells each feature (completion, ...) about documents and the session.
    Features keep their own state per document and never see each other."""

    def did_open(self, doc: Snapshot) -> None: ...

    def did_change(self, uri: str, old: Snapshot | None, changes: list[TextChange]) -> None:
        """After the store took a newer version; ``old`` (the version before) is None when the
        change could not be applied to it."""

    def did_close(self, uri: str) -> None: ...

    def stats(self) -> dict[str, object]: ...

    def shutdown(self) -> None:
        """Stop the feature's own work; the engine host is closed after every feature."""


class FimServer(LanguageServer):
    def __init__(self, sources: SettingsSources | None = None) -> None:
        super().__init__("fim-lsp", __version__, protocol_cls=FimProtocol)
        self.documents = DocumentStore()
        self.index = WorkspaceIndex()
        self.host = EngineHost(Settings())
        self.lifecycle = Lifecycle(self, self.host, sources or SettingsSources())
        self.features: list[Feature] = []
        self.root: Path | None = None
        self.client_name: str | None = None  # clientInfo.name: how its completion menu inserts
        self._serving = ServeLoop(self.protocol, self._close)  # type: ignore[arg-type]
        self._shut_down = False

    def add_feature(self, feature: Feature) -> None:
        self.features.append(feature)

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Protocol noise (malformed JSON, a bad notification) goes to the log, not to pop-ups."""
        log.error("protocol error (%s): %s", getattr(source, "__name__", source), error)

    # -- serving (serving.py) ----------------------------------------------------------------

    def start_io(self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> int:  # type: ignore[override]
        return self._serving.stdio(stdin, stdout)

    def start_tcp(self, host: str, port: int) -> int:  # type: ignore[override]
        return self._serving.tcp(host, port)

    def request_exit(self, code: int) -> None:
        self._serving.request_exit(code)

    async def _close(self) -> None:
        if not self._shut_down:
            try:
                await self.on_shutdown()
            except Exception:
                log.debug("shutdown on exit failed", exc_info=True)
        super().shutdown()

    # -- the session -------------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        return self.host.settings

    def on_initialize(self, params: types.InitializeParams) -> None:
        self._serving.watch_parent(params.process_id)
        self.client_name = params.client_info.name if params.client_info else None
        root = params.root_uri or (params.workspace_folders[0].uri if params.workspace_folders else None)
        fs_root = to_fs_path(root) if root else None
        self.root = Path(fs_root) if fs_root else None
        folders = [to_fs_path(f.uri) for f in params.workspace_folders or []] or [fs_root]
        self.index.set_roots([Path(f) for f in folders if f])  # the only files it may read
        self.lifecycle.initialize(params.initialization_options)

    def stats(self) -> dict[str, object]:
        data: dict[str, object] = {}
        for feature in self.features:
            data.update(feature.stats())
        data["documents"] = len(self.documents)
        data["pendingFutures"] = pending_requests(self.protocol)
        return data

    async def on_shutdown(self) -> None:
        self._shut_down = True
        self.lifecycle.stop_loading()
        for feature in self.features:
            feature.shutdown()
        await self.host.shutdown()
        self.index.close()

    # -- documents -------------------------------------------------------------------------------

    @property
    def encoding(self) -> str:
        """The negotiated position encoding's value (str() of lsprotocol's enum is its name)."""
        enc = getattr(self.workspace.position_encoding, "value", None)
        return enc if enc in (UTF8, UTF16, UTF32) else UTF16

    def did_open(self, doc: types.TextDocumentItem) -> None:
        snapshot = self.documents.open(doc.uri, doc.text, doc.version, doc.language_id)
        for feature in self.features:
            feature.did_open(snapshot)

    def did_change(self, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        changes = [_text_change(c) for c in params.content_changes]
        old = self.documents.get(uri)
        try:
            self.documents.change(uri, params.text_document.version, changes, self.encoding)
        except KeyError:
            log.warning("didChange for a document that is not open: %s", uri)
            return
        except PositionError as err:
            log.warning("bad didChange for %s: %s", uri, err)
            old = None
        for feature in self.features:
            feature.did_change(uri, old, changes)

    def did_close(self, uri: str) -> None:
        self.documents.close(uri)
        for feature in self.features:
            feature.did_close(uri)

    def relative(self, uri: str) -> str:
        """A document's path as the model should see it: relative to the workspace root."""
        path = to_fs_path(uri)
        if not path:
            return uri.rsplit("/", 1)[-1]
        if self.root is not None:
            try:
                return Path(path).relative_to(self.root).as_posix()
            except ValueError:
                pass
        return Path(path).name


def _text_change(change: types.TextDocumentContentChangeEvent) -> TextChange:
    rng = getattr(change, "range", None)
    if rng is None:
        return TextChange(change.text)
    return TextChange(change.text, (rng.start.line, rng.start.character, rng.end.line, rng.end.character))
