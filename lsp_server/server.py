"""The LanguageServer subclass: owns the documents, the settings sources, the completion service.

Handlers (handlers.py) stay a few lines each and call the methods here, which translate between
LSP types and the pure domain modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Generator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, BinaryIO

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.protocol import JsonRPCProtocol, LanguageServerProtocol
from pygls.protocol.language_server import lsp_method
from pygls.uris import to_fs_path

from lsp_server import __version__
from lsp_server.completion import CompletionQuery, CompletionService
from lsp_server.config import SECTION, Settings, SettingsSources
from lsp_server.documents import (
    UTF8,
    UTF16,
    UTF32,
    DocumentStore,
    PositionError,
    Snapshot,
    TextChange,
    column_to_index,
    index_to_column,
    typed_cursor,
)
from lsp_server.engine import EngineError
from lsp_server.features.nextedit import NextEditFeature
from lsp_server.items import (
    MenuCaps,
    MenuItem,
    SelectedItem,
    accept_selected,
    extend_selected,
    menu_caps,
    menu_item,
)
from lsp_server.nextedit.service import NextEditService
from lsp_server.postprocess import Suggestion
from lsp_server.transport import FrameError, FrameParser, pid_alive
from lsp_server.workspace import WorkspaceIndex

log = logging.getLogger(__name__)

# The editor counts as completing as you type for this long after its last automatic request
# (in any document: it is a property of the editor); while it does, keystrokes start speculative
# completions (see CompletionService.speculate).
AS_YOU_TYPE_S = 300.0
# An Invoked request (the user pressed the key) waits this long for a model still loading.
LOAD_WAIT_S = 60.0

# How often the editor process (initialize.processId) is checked for.
PARENT_POLL_S = 1.0
READ_CHUNK = 65536

STATUS_NOTIFICATION = "fimLsp/status"
STATS_REQUEST = "fimLsp/stats"


class FimProtocol(LanguageServerProtocol):
    """pygls' protocol, made to answer every request whatever the client sends.

    pygls 2.1 gaps worked around here (docs/upstream-notes.md): a request without ``params``, or
    whose params fail to decode, got no response at all; a request after ``shutdown`` got none
    either; a future per handled notification was kept forever (memory grew with every
    didChange); ``shutdown`` failed while a request of ours was unanswered; ``exit`` could not
    set the exit status.
    """

    def receive(self, body: bytes) -> bool:
        """Handle one message body; False when it is not JSON (its frame may have swallowed the
        next message: see `FrameParser.recover`)."""
        try:
            data = json.loads(body)
        except (ValueError, RecursionError) as err:  # UnicodeDecodeError is a ValueError
            log.error("a message that is not JSON (%d bytes): %s", len(body), err)
            return False
        try:
            self._receive(data)
        except Exception:  # never let one message stop the reader
            log.exception("could not handle a message")
        return True

    def _receive(self, data: Any) -> None:
        if not isinstance(data, dict):
            log.error("not a JSON-RPC message: a JSON %s", type(data).__name__)
            return
        problem = _envelope_problem(data)
        request = "id" in data and "method" in data
        if problem is not None:
            if request:
                self._send_error(data["id"], INVALID_REQUEST, problem)
            else:
                log.error("dropped a message: %s", problem)
            return
        if request and self._shutdown:
            self._send_error(data["id"], INVALID_REQUEST, "the server is shutting down")
            return
        if "method" in data:
            data.setdefault("params", None)  # optional in JSON-RPC; pygls' types require the key
        try:
            message = self.structure_message(data)
        except Exception as err:
            if not request:
                log.error("dropped a %s message: %s", data.get("method", "response"), err)
                return
            log.warning("invalid params for %s (request %s)", data["method"], data["id"])
            self._send_error(data["id"], INVALID_PARAMS, f"invalid params for {data['method']}")
            return
        if request and not hasattr(message, "id"):  # a notification's method sent with an id
            self._send_error(data["id"], METHOD_NOT_FOUND, f"{data['method']} is a notification, not a request")
            return
        self.handle_message(message)

    def structure_message(self, data: dict[str, Any]) -> Any:
        _fix_inline_context(data)
        return super().structure_message(data)

    def _send_error(self, msg_id: Any, code: int, message: str) -> None:
        """An error response built by hand: the id may be of any JSON type the client used."""
        self._send_data({"jsonrpc": JsonRPCProtocol.VERSION, "id": msg_id, "error": {"code": code, "message": message}})

    def _execute_handler(self, msg_id, handler, callback, args=None, kwargs=None):  # type: ignore[no-untyped-def]
        def done(future: Future[Any]) -> None:
            self._request_futures.pop(msg_id, None)
            callback(future)

        super()._execute_handler(msg_id, handler, done, args, kwargs)

    @lsp_method(types.SHUTDOWN)
    def lsp_shutdown(self, *args: Any) -> Generator[Any, Any, None]:
        """pygls' own, iterating over a copy: cancelling a future runs its callbacks at once,
        and ours remove the future from the dict being iterated."""
        if (user_handler := self.fm.features.get(types.SHUTDOWN)) is not None:
            yield user_handler, args, None
        current = self.msg_id
        for msg_id, future in list(self._request_futures.items()):
            if msg_id != current and not future.done():
                future.cancel()
        self._shutdown = True

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> Generator[Any, Any, None]:
        """Stop serving; the status is 0 after shutdown, 1 otherwise (pygls' sys.exit inside a
        handler was caught by its own loop, and the process ended with 0 either way)."""
        yield from self._user_handler(types.EXIT, *args)
        self._server.request_exit(0 if self._shutdown else 1)  # type: ignore[attr-defined]

    # The store (documents.py) holds the open documents: pygls' workspace copies are skipped.
    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: types.DidOpenTextDocumentParams) -> Generator[Any, Any, None]:
        yield from self._user_handler(types.TEXT_DOCUMENT_DID_OPEN, params)

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams) -> Generator[Any, Any, None]:
        yield from self._user_handler(types.TEXT_DOCUMENT_DID_CHANGE, params)

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: types.DidCloseTextDocumentParams) -> Generator[Any, Any, None]:
        yield from self._user_handler(types.TEXT_DOCUMENT_DID_CLOSE, params)

    def _user_handler(self, method: str, *args: Any) -> Generator[Any, Any, None]:
        if (handler := self.fm.features.get(method)) is not None:
            yield handler, args, None


# JSON-RPC error codes (https://www.jsonrpc.org/specification#error_object)
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602


def _envelope_problem(data: dict[str, Any]) -> str | None:
    """What makes a message invalid before its params are looked at; None when it is valid."""
    if data.get("jsonrpc") != JsonRPCProtocol.VERSION:
        return "jsonrpc must be \"2.0\""
    if "id" in data and (isinstance(data["id"], bool) or not isinstance(data["id"], (int, str))):
        return "id must be a string or an integer"
    if "method" in data and not isinstance(data["method"], str):
        return "method must be a string"
    if "method" not in data and "id" not in data:
        return "neither a request, a notification nor a response"
    if "method" not in data and "result" not in data and "error" not in data:
        return "a response without result or error"
    return None


def _fix_inline_context(data: Any) -> None:
    """Accept what vscode-languageclient 9 sends in an inline request's context.

    - triggerKind is VS Code's 0-based value; LSP's starts at 1. 0 is not a valid LSP value (the
      whole request would be rejected), and in VS Code it means an explicit invocation: Invoked.
    - selectedCompletionInfo.range, sent while the suggest widget is open, is VS Code's
      ``[start, end]`` array instead of a Range object.

    Anything else is left for the decoder to judge; nothing here may raise.
    """
    if not isinstance(data, dict) or data.get("method") != types.TEXT_DOCUMENT_INLINE_COMPLETION:
        return
    params = data.get("params")
    context = params.get("context") if isinstance(params, dict) else None
    if not isinstance(context, dict):
        return
    if context.get("triggerKind") == 0:
        context["triggerKind"] = types.InlineCompletionTriggerKind.Invoked.value
    selected = context.get("selectedCompletionInfo")
    if isinstance(selected, dict) and isinstance(rng := selected.get("range"), list) and len(rng) == 2:
        selected["range"] = {"start": rng[0], "end": rng[1]}


class FimServer(LanguageServer):
    def __init__(self, sources: SettingsSources | None = None) -> None:
        super().__init__("fim-lsp", __version__, protocol_cls=FimProtocol)
        self.sources = sources or SettingsSources()
        self.documents = DocumentStore()
        self.index = WorkspaceIndex()
        self.service = CompletionService(Settings(), index=self.index)
        # Next-edit shares the completion feature's engine host and worker thread (until issue
        # 25 moves them to the engine layer, reached through its private fields).
        self.nextedit = NextEditFeature(NextEditService(self.service._host, self.service._worker), self.documents,
                                        lambda: self.encoding, self._relative)
        self._shown: set[str] = set()
        self._load_task: asyncio.Task[None] | None = None
        self._root: Path | None = None
        self._last_load = 0.0
        self._asked_as_you_type: float | None = None  # time of the editor's last automatic request
        self._client_name: str | None = None  # clientInfo.name: how its completion menu inserts
        self._stop: asyncio.Event | None = None
        self._exit_code: int | None = None
        self._watch: asyncio.Task[None] | None = None
        self._shut_down = False

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Protocol noise (malformed JSON, a bad notification) goes to the log, not to pop-ups."""
        log.error("protocol error (%s): %s", getattr(source, "__name__", source), error)

    # -- transports: our own reader loop, with limits (lsp_server/transport.py) ------------------

    def start_io(self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> int:  # type: ignore[override]
        """Serve over a pair of byte streams; the exit status."""
        inp, out = stdin or sys.stdin.buffer, stdout or sys.stdout.buffer
        self.protocol.set_writer(_StreamWriter(out, self))
        return asyncio.run(self._serve(_stream_chunks(inp)))

    def start_tcp(self, host: str, port: int) -> int:  # type: ignore[override]
        """Serve the first client that connects to host:port, then exit; the exit status."""
        return asyncio.run(self._serve_tcp(host, port))

    async def _serve_tcp(self, host: str, port: int) -> int:
        connected: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Future()

        def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if connected.done():
                log.warning("a second client connected: refused (one editor per server)")
                writer.close()
                return
            connected.set_result((reader, writer))

        listener = await asyncio.start_server(accept, host, port)
        log.info("serving on %s", ", ".join(str(sock.getsockname()) for sock in listener.sockets))
        reader, writer = await connected
        listener.close()
        self.protocol.set_writer(writer)  # type: ignore[arg-type]
        try:
            return await self._serve(lambda: reader.read(READ_CHUNK))
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), timeout=5)

    async def _serve(self, read: Callable[[], Awaitable[bytes]]) -> int:
        """Read messages until the client is gone, says exit, or its editor process ends."""
        self._stop = asyncio.Event()
        pump = asyncio.ensure_future(self._pump(read))
        stop = asyncio.ensure_future(self._stop.wait())
        await asyncio.wait({pump, stop}, return_when=asyncio.FIRST_COMPLETED)
        for task in (pump, stop):
            task.cancel()
        if pump.done() and not pump.cancelled() and pump.exception() is not None:
            log.error("the reader failed", exc_info=pump.exception())
        await self._close()
        return self._exit_code if self._exit_code is not None else (0 if self.protocol._shutdown else 1)

    async def _pump(self, read: Callable[[], Awaitable[bytes]]) -> None:
        parser = FrameParser()
        while chunk := await read():
            parser.feed(chunk)
            while (item := parser.next()) is not None:
                if isinstance(item, FrameError):
                    log.error("skipped bytes that were not a message: %s", item.reason)
                elif not self.protocol.receive(item):  # type: ignore[attr-defined]
                    parser.recover(item)
                await asyncio.sleep(0)  # let handlers run between messages of one read

    def request_exit(self, code: int) -> None:
        if self._exit_code is None:
            self._exit_code = code
        if self._stop is not None:
            self._stop.set()

    async def _close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        if not self._shut_down:
            with contextlib.suppress(Exception):
                await self.on_shutdown()
        super().shutdown()

    def watch_parent(self, pid: int | None) -> None:
        """Exit when the editor process (initialize.processId) is gone, whatever the transport:
        a server over TCP, or one whose pipes another process holds, would outlive it."""
        if self._watch is not None:
            self._watch.cancel()
        if isinstance(pid, int) and pid > 0 and pid != os.getpid():
            self._watch = asyncio.ensure_future(self._watch_parent(pid))

    async def _watch_parent(self, pid: int) -> None:
        while pid_alive(pid):
            await asyncio.sleep(PARENT_POLL_S)
        log.warning("the editor (process %d) is gone: exiting", pid)
        self.request_exit(1)

    # -- settings ----------------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        return self.service.settings

    def on_initialize(self, params: types.InitializeParams) -> None:
        options = params.initialization_options
        if isinstance(options, dict) and isinstance(options.get(SECTION), dict):
            options = options[SECTION]
        self.sources.init_options = options
        self.watch_parent(params.process_id)
        self._client_name = params.client_info.name if params.client_info else None
        root = params.root_uri or (params.workspace_folders[0].uri if params.workspace_folders else None)
        fs_root = to_fs_path(root) if root else None
        self._root = Path(fs_root) if fs_root else None
        folders = [to_fs_path(f.uri) for f in params.workspace_folders or []] or [fs_root]
        self.index.set_roots([Path(f) for f in folders if f])  # the only files it may read
        self._apply_settings()

    def _apply_settings(self) -> bool:
        """Recompute settings from all sources; True when the engine must be reloaded."""
        result = self.sources.resolve()
        for problem in result.problems:
            self.show_once(f"fim-lsp settings: {problem}", types.MessageType.Warning)
        return self.service.reconfigure(result.settings)

    def _supports_configuration(self) -> bool:
        ws = self.client_capabilities.workspace
        return bool(ws and ws.configuration)

    async def pull_configuration(self) -> None:
        if not self._supports_configuration():
            return
        try:
            items = await asyncio.wait_for(
                self.workspace_configuration_async(
                    types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)])
                ),
                timeout=5,
            )
        except Exception as err:  # a client that fails this request must not stop the server
            log.warning("workspace/configuration failed: %s", err)
            return
        value = items[0] if items else None
        self.sources.workspace = value if isinstance(value, dict) else None

    async def on_initialized(self) -> None:
        await self.pull_configuration()
        self._apply_settings()
        self.start_loading()

    async def on_configuration_changed(self, settings: Any) -> None:
        """Clients may send ``settings: null`` (nvim-lspconfig): always re-pull."""
        if isinstance(settings, dict) and isinstance(settings.get(SECTION), dict):
            self.sources.workspace = settings[SECTION]
        await self.pull_configuration()
        self._shown.clear()  # new settings: their problems deserve a new message
        if self._apply_settings() or (self.service.error is not None):
            self.start_loading()
        self.send_status()

    # -- engine loading ------------------------------------------------------------------------

    def start_loading(self) -> None:
        if self._load_task is not None and not self._load_task.done():
            self._load_task.cancel()
        self._load_task = asyncio.ensure_future(self._load())

    async def _load(self) -> None:
        self._last_load = time.monotonic()
        self.send_status("loading")
        progress = await self._progress_reporter(f"fim-lsp: loading {self.settings.engine.model}")
        try:
            info = await self.service.load(progress.report)
        except EngineError as err:
            progress.end(f"failed: {err}")
            self.show_once(f"fim-lsp: {err.user_message()}", types.MessageType.Error)
            self.send_status("error", err.user_message())
            return
        progress.end("ready")
        log.info("engine ready: %s (%s, FIM %s)", info.model, info.backend, info.fim_format)
        self.send_status("ready")

    async def _progress_reporter(self, title: str) -> _Progress:
        caps = self.client_capabilities.window
        token: str | None = None
        if caps and caps.work_done_progress:
            token = f"fim-lsp-load-{uuid.uuid4()}"
            try:
                await asyncio.wait_for(self.work_done_progress.create_async(token), timeout=5)
            except Exception as err:
                log.debug("progress create failed: %s", err)
                token = None
        return _Progress(self, token, title, asyncio.get_running_loop())

    def send_status(self, state: str | None = None, message: str = "") -> None:
        if state is None:
            state = "ready" if self.service.ready else ("error" if self.service.error else "loading")
            message = self.service.error.user_message() if self.service.error else ""
        if not self.settings.serving.enabled:
            state = "disabled"
        self.protocol.notify(STATUS_NOTIFICATION, {"state": state, "message": message, "model": self.settings.engine.model})

    def show_once(self, message: str, kind: types.MessageType = types.MessageType.Error) -> None:
        if message in self._shown:
            return
        self._shown.add(message)
        log.warning("%s", message)
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    # -- documents -------------------------------------------------------------------------------

    @property
    def encoding(self) -> str:
        """The negotiated position encoding's value (str() of lsprotocol's enum is its name)."""
        enc = getattr(self.workspace.position_encoding, "value", None)
        return enc if enc in (UTF8, UTF16, UTF32) else UTF16

    def did_open(self, doc: types.TextDocumentItem) -> None:
        self.documents.open(doc.uri, doc.text, doc.version, doc.language_id)
        if self.settings.prompt.repo_context:
            self.index.warm(doc.text, to_fs_path(doc.uri) or "")

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
        # A newer version makes any running completion for this document stale: stop it now.
        self.service.cancel(uri)
        new = self.documents.get(uri)
        if old is not None and new is not None:
            self.nextedit.changed(old, new, any(c.range is None for c in changes))
        if old is not None:
            self._speculate(uri, typed_cursor(old, changes, self.encoding))

    def _speculate(self, uri: str, offset: int | None) -> None:
        """Start the completion the editor will ask for, if it asks as the user types."""
        seen = self._asked_as_you_type
        if offset is None or seen is None or time.monotonic() - seen > AS_YOU_TYPE_S:
            return
        if not (self.settings.serving.enabled and self.service.ready):
            return
        doc = self.documents.get(uri)
        if doc is None or doc.language_id in self.settings.serving.disabled_languages:
            return
        query = self._query_at(doc, offset, several=False)
        self.service.speculate(query)

    def did_close(self, uri: str) -> None:
        self.documents.close(uri)
        self.service.forget(uri)
        self.nextedit.forget(uri)

    # -- completion ------------------------------------------------------------------------------

    def _query(self, uri: str, position: types.Position, several: bool) -> CompletionQuery | None:
        doc = self.documents.get(uri)
        if doc is None:
            log.warning("completion for a document that is not open: %s", uri)
            return None
        if doc.language_id and doc.language_id in self.settings.serving.disabled_languages:
            return None
        try:
            offset = doc.offset_at(position.line, position.character, self.encoding)
        except PositionError as err:
            log.warning("completion at a bad position in %s: %s", uri, err)
            return None
        return self._query_at(doc, offset, several)

    def _query_at(self, doc: Snapshot, offset: int, several: bool) -> CompletionQuery:
        # Other buffers only feed extraContext; with it off, a keystroke need not walk them.
        others = tuple((self._relative(d.uri), d.text) for d in reversed(self.documents.others(doc.uri))
                       if d.language_id == doc.language_id) if self.settings.prompt.extra_context else ()
        return CompletionQuery(doc, offset, self._relative(doc.uri), self._root.name if self._root else "",
                               several, others, to_fs_path(doc.uri) or "")

    def _relative(self, uri: str) -> str:
        path = to_fs_path(uri)
        if not path:
            return uri.rsplit("/", 1)[-1]
        if self._root is not None:
            try:
                return Path(path).relative_to(self._root).as_posix()
            except ValueError:
                pass
        return Path(path).name

    async def suggest(self, uri: str, position: types.Position, several: bool, wait: bool = False) -> list[Suggestion]:
        """Suggestions for a position; [] when disabled, not ready, stale or failing.

        ``wait``: the user asked (an Invoked request), so wait for a model still loading.
        """
        if not await self._ready(wait):
            return []
        query = self._query(uri, position, several)
        return await self._complete(query) if query is not None else []

    async def _ready(self, wait: bool) -> bool:
        if not self.settings.serving.enabled:
            return False
        if not self.service.ready:
            self._retry_remote_load()
            if wait:
                await self._wait_loaded(LOAD_WAIT_S)
        return self.service.ready

    async def _wait_loaded(self, timeout: float) -> None:
        """Wait for the engine while a load runs, or until the first one starts (initialized
        pulls the configuration first). A cancelled request stops waiting; the load goes on."""
        deadline = time.monotonic() + timeout
        while not self.service.ready and (left := deadline - time.monotonic()) > 0:
            task = self._load_task
            if task is None and self.service.error is None:
                await asyncio.sleep(min(0.05, left))
            elif task is not None and not task.done():
                await asyncio.wait([task], timeout=left)
            else:
                return  # the load failed; the user was told

    async def _complete(self, query: CompletionQuery) -> list[Suggestion]:
        uri = query.snapshot.uri
        try:
            texts = await self.service.complete(query)
        except EngineError as err:
            self.show_once(f"fim-lsp: {err.user_message()}")
            return []
        current = self.documents.get(uri)
        if current is None or current.version != query.snapshot.version:
            log.debug("dropping a result for %s v%s (now v%s)", uri, query.snapshot.version,
                      current.version if current else None)
            return []
        return texts

    def _retry_remote_load(self) -> None:
        """A shared engine that was down at start-up may be back: retry now and then."""
        loading = self._load_task is not None and not self._load_task.done()
        if self.service.remote and not loading and self.service.error is not None and time.monotonic() - self._last_load > 10:
            self.start_loading()

    async def inline_completion(self, params: types.InlineCompletionParams) -> types.InlineCompletionList:
        self.nextedit.yield_to_completion()
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
        if not await self._ready(invoked):
            return cursor, []
        query = self._query(uri, position, invoked)
        if query is None:
            return cursor, []
        doc, enc = query.snapshot, self.encoding
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

    async def completion(self, params: types.CompletionParams) -> types.CompletionList:
        self.nextedit.yield_to_completion()
        # Completion sources (nvim-cmp, blink) ask as the user types, whatever trigger they report.
        self._asked_as_you_type = time.monotonic()
        uri, position = params.text_document.uri, params.position
        found = await self.suggest(uri, position, several=False)
        doc = self.documents.get(uri)
        if not found or doc is None:
            return types.CompletionList(is_incomplete=True, items=[])
        line = doc.line_text(position.line)
        before = line[: column_to_index(line, position.character, self.encoding)]
        caps, markdown = self._menu_caps()
        items = []
        for s in found:
            item = menu_item(s.text, before, caps, s.replace)
            if item is not None:
                items.append(self._completion_item(item, before, position, s.text, markdown))
        return types.CompletionList(is_incomplete=True, items=items)

    def _menu_caps(self) -> tuple[MenuCaps, bool]:
        """How the client inserts items, and whether it renders markdown documentation."""
        td = self.client_capabilities.text_document
        item = td.completion.completion_item if td and td.completion else None
        markdown = bool(item and item.documentation_format and types.MarkupKind.Markdown in item.documentation_format)
        return menu_caps(self._client_name, item.snippet_support if item else None), markdown

    def _completion_item(
        self, item: MenuItem, before: str, position: types.Position, text: str, markdown: bool
    ) -> types.CompletionItem:
        start = types.Position(position.line, index_to_column(before, item.start, self.encoding))
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

    def stats(self) -> dict[str, object]:
        data = self.service.stats_json()
        data["documents"] = len(self.documents)
        data["pendingFutures"] = _pending_requests(self.protocol)
        return data

    async def on_shutdown(self) -> None:
        self._shut_down = True
        if self._load_task is not None and not self._load_task.done():
            self._load_task.cancel()
        await self.service.shutdown()
        self.index.close()


def _pending_requests(protocol: JsonRPCProtocol) -> int:
    """Requests pygls still tracks (it has no public count); flat over a session when no
    future leaks (see `FimProtocol._execute_handler`)."""
    return len(protocol._request_futures)


def _text_change(change: types.TextDocumentContentChangeEvent) -> TextChange:
    rng = getattr(change, "range", None)
    if rng is None:
        return TextChange(change.text)
    return TextChange(change.text, (rng.start.line, rng.start.character, rng.end.line, rng.end.character))


def _insertions(found: list[Suggestion]) -> list[str]:
    """The suggestions that only insert at the cursor."""
    return [s.text for s in found if not s.replace]


def _inline_item(found: Suggestion, position: types.Position) -> types.InlineCompletionItem:
    """Ghost text at the cursor; a dedent replaces the whitespace before it (ASCII, so the
    count is the same in every position encoding)."""
    start = types.Position(position.line, max(0, position.character - found.replace))
    return types.InlineCompletionItem(insert_text=found.text, range=types.Range(start, position))


class _Progress:
    """Work-done progress fed from the worker thread; a no-op when the client lacks support."""

    def __init__(self, server: FimServer, token: str | None, title: str, loop: asyncio.AbstractEventLoop) -> None:
        self._server, self._token, self._loop = server, token, loop
        self._last = 0.0
        if token is not None:
            server.work_done_progress.begin(token, types.WorkDoneProgressBegin(title=title, percentage=0))

    def report(self, message: str, percentage: int | None) -> None:
        now = time.monotonic()
        if self._token is None or (now - self._last < 0.2 and percentage not in (0, 100)):
            return
        self._last = now
        value = types.WorkDoneProgressReport(message=message, percentage=percentage)
        self._call(lambda: self._server.work_done_progress.report(self._token, value))  # type: ignore[arg-type]

    def end(self, message: str) -> None:
        if self._token is not None:
            token = self._token
            self._call(lambda: self._server.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message)))

    def _call(self, fn: Callable[[], None]) -> None:
        self._loop.call_soon_threadsafe(fn)


class _StreamWriter:
    """stdout for the protocol; a client that is gone (a broken pipe) ends the server instead of
    raising inside whichever handler answered last."""

    def __init__(self, stream: BinaryIO, server: FimServer) -> None:
        self._stream, self._server = stream, server

    def write(self, data: bytes) -> None:
        try:
            self._stream.write(data)
            self._stream.flush()
        except (OSError, ValueError) as err:  # ValueError: the stream was closed
            log.warning("cannot write to the client (%s): exiting", err)
            self._server.request_exit(1)

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._stream.close()


def _stream_chunks(stream: BinaryIO) -> Callable[[], Awaitable[bytes]]:
    """Chunks of a blocking stream, read on a daemon thread (a blocked read must not keep the
    process alive once serving ends); at most a few chunks wait, so a flood cannot fill memory."""
    queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=16)
    loop: asyncio.AbstractEventLoop | None = None
    try:  # the file descriptor itself: a daemon thread blocked inside a buffered reader's lock
        fd: int | None = stream.fileno()  # aborts the interpreter at exit
    except (OSError, ValueError, AttributeError):
        fd = None

    def pump() -> None:
        assert loop is not None
        while True:
            try:
                chunk = os.read(fd, READ_CHUNK) if fd is not None else stream.read1(READ_CHUNK)  # type: ignore[attr-defined]
            except (OSError, ValueError):
                chunk = b""
            try:
                asyncio.run_coroutine_threadsafe(queue.put(chunk), loop).result()
            except RuntimeError:  # the loop is gone: serving ended
                return
            if not chunk:
                return

    async def read() -> bytes:
        nonlocal loop
        if loop is None:
            loop = asyncio.get_running_loop()
            threading.Thread(target=pump, name="fim-stdin", daemon=True).start()
        return await queue.get()

    return read
