"""fim-lsp as the editor sees it: a stdio subprocess driven with pygls's LanguageClient."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp
from pygls.io_ import run_async
from pygls.lsp.client import LanguageClient

from bench.editor import Position, apply_edit
from bench.procs import peak_rss_bytes


@dataclass(frozen=True)
class Suggestion:
    text: str  # what the ghost text inserts
    start: Position  # the range it replaces (empty range: inserted at the cursor)
    end: Position

    def apply(self, doc: str) -> str:
        return apply_edit(doc, self.start, self.end, self.text)


def run_between(before: dict | None, after: dict | None) -> dict[str, Any]:
    """The server's ``last`` model run when exactly one finished between two `FimLspServer.stats`
    reads (none: the answer came from memory), else {}."""
    if not before or not after or not isinstance(after.get("last"), dict):
        return {}
    return after["last"] if after.get("completed", 0) - before.get("completed", 0) == 1 else {}


def _plain(obj: Any) -> Any:
    """Responses to custom methods arrive as attribute objects; turn them back into JSON data."""
    if obj is None or isinstance(obj, str | int | float | bool):
        return obj
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple) and not hasattr(obj, "_asdict"):
        return [_plain(v) for v in obj]
    if hasattr(obj, "_asdict"):
        return {k: _plain(v) for k, v in obj._asdict().items()}
    if hasattr(obj, "__dict__"):
        return {k: _plain(v) for k, v in vars(obj).items()}
    return obj


class FimLspServer:
    """One fim-lsp process. Every method but `start` and `stop` is a single LSP message."""

    def __init__(
        self, command: list[str], settings: dict, log_path: Path, *, root: Path | None = None
    ) -> None:
        self.command = command
        self.settings = settings
        self.log_path = log_path
        self.root = root  # the workspace folder (rootUri), if any
        self.client = LanguageClient("fim-lsp-bench", "0.1")
        self.proc: asyncio.subprocess.Process | None = None
        self._stop = threading.Event()
        self._reader: asyncio.Task | None = None
        self._ids = itertools.count(1)
        self.spawned_at = 0.0
        self.status: list = []

        @self.client.feature("fimLsp/status")
        def _status(params: Any) -> None:
            self.status.append(_plain(params))

    async def start(self) -> float:
        """Spawn and initialize; returns seconds from spawn to the initialize result."""
        self.spawned_at = time.monotonic()
        log = open(self.log_path, "ab")
        self.proc = await asyncio.create_subprocess_exec(
            *self.command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        assert self.proc.stdin and self.proc.stdout
        self.client.protocol.set_writer(self.proc.stdin)
        self._reader = asyncio.create_task(
            run_async(stop_event=self._stop, reader=self.proc.stdout, protocol=self.client.protocol)
        )
        caps = lsp.ClientCapabilities(
            text_document=lsp.TextDocumentClientCapabilities(
                synchronization=lsp.TextDocumentSyncClientCapabilities(),
                inline_completion=lsp.InlineCompletionClientCapabilities(),
            ),
            general=lsp.GeneralClientCapabilities(
                position_encodings=[lsp.PositionEncodingKind.Utf16]
            ),
        )
        await asyncio.wait_for(
            self.client.initialize_async(
                lsp.InitializeParams(
                    capabilities=caps,
                    process_id=os.getpid(),
                    initialization_options=self.settings,
                    client_info=lsp.ClientInfo(name="fim-lsp-bench"),
                    root_uri=self.root.as_uri() if self.root else None,
                    workspace_folders=[lsp.WorkspaceFolder(self.root.as_uri(), self.root.name)]
                    if self.root
                    else None,
                )
            ),
            timeout=600,
        )
        self.client.initialized(lsp.InitializedParams())
        return time.monotonic() - self.spawned_at

    def open(self, uri: str, text: str, language: str = "python") -> None:
        self.client.text_document_did_open(
            lsp.DidOpenTextDocumentParams(
                text_document=lsp.TextDocumentItem(
                    uri=uri, language_id=language, version=1, text=text
                )
            )
        )

    def change(self, uri: str, version: int, start: Position, end: Position, text: str) -> None:
        rng = lsp.Range(
            lsp.Position(start.line, start.character), lsp.Position(end.line, end.character)
        )
        self.client.text_document_did_change(
            lsp.DidChangeTextDocumentParams(
                text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[lsp.TextDocumentContentChangePartial(range=rng, text=text)],
            )
        )

    def close(self, uri: str) -> None:
        self.client.text_document_did_close(
            lsp.DidCloseTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=uri))
        )

    def cursor(self, uri: str, pos: Position) -> None:
        """``fimLsp/cursor``: where the cursor rests, as fim-lsp's own VS Code and Neovim clients
        report it (the server evaluates the prompt there before the first request)."""
        self.client.protocol.notify("fimLsp/cursor", {"textDocument": {"uri": uri},
                                                      "position": {"line": pos.line, "character": pos.character}})

    async def complete(self, uri: str, pos: Position, automatic: bool = True) -> list[Suggestion]:
        """``textDocument/inlineCompletion``; cancelling the awaiting task sends ``$/cancelRequest``."""
        msg_id = f"bench-{next(self._ids)}"
        params = lsp.InlineCompletionParams(
            context=lsp.InlineCompletionContext(
                trigger_kind=lsp.InlineCompletionTriggerKind.Automatic
                if automatic
                else lsp.InlineCompletionTriggerKind.Invoked
            ),
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            position=lsp.Position(pos.line, pos.character),
        )
        loop = asyncio.get_running_loop()
        answer: asyncio.Future = loop.create_future()

        def _settle(f) -> None:
            if not answer.done():
                if f.exception() is not None:
                    answer.set_exception(f.exception())
                else:
                    answer.set_result(f.result())

        # Not asyncio.wrap_future: cancelling our wait must not cancel pygls's own future, which
        # the server's RequestCancelled answer still has to settle.
        fut = self.client.protocol.send_request(
            lsp.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id=msg_id
        )
        fut.add_done_callback(lambda f: loop.call_soon_threadsafe(_settle, f))
        try:
            result = await answer
        except asyncio.CancelledError:
            self.client.protocol.notify(lsp.CANCEL_REQUEST, lsp.CancelParams(id=msg_id))
            raise
        items = result.items if isinstance(result, lsp.InlineCompletionList) else (result or [])
        out = []
        for it in items:
            text = it.insert_text if isinstance(it.insert_text, str) else it.insert_text.value
            if it.range is not None:
                s, e = it.range.start, it.range.end
                out.append(
                    Suggestion(text, Position(s.line, s.character), Position(e.line, e.character))
                )
            else:
                out.append(Suggestion(text, pos, pos))
        return out

    async def stats(self) -> dict | None:
        """The server's ``fimLsp/stats`` counters, or None if it does not answer them."""
        try:
            res = await asyncio.wait_for(
                self.client.protocol.send_request_async("fimLsp/stats", None), timeout=30
            )
        except Exception:  # noqa: BLE001 - a missing method is a finding, not a crash
            return None
        return _plain(res)

    def peak_rss(self) -> int | None:
        return peak_rss_bytes(self.proc.pid) if self.proc else None

    async def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.returncode is None:
            try:
                await asyncio.wait_for(self.client.shutdown_async(None), timeout=10)
                self.client.exit(None)
                await asyncio.wait_for(self.proc.wait(), timeout=10)
            except Exception:  # noqa: BLE001 - fall through to the kill
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        await self.proc.wait()
        self._stop.set()
        if self._reader:
            self._reader.cancel()
            try:
                await self._reader
            except BaseException:  # noqa: BLE001
                pass
