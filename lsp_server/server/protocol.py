"""pygls' protocol made to answer every request, and the JSON fix-ups for clients that break LSP."""

from __future__ import annotations

import json
import logging
from collections.abc import Generator
from concurrent.futures import Future
from typing import Any

from lsprotocol import types
from pygls.protocol import JsonRPCProtocol, LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

log = logging.getLogger(__name__)

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


def pending_requests(protocol: JsonRPCProtocol) -> int:
    """Requests pygls still tracks (it has no public count); flat over a session when no
    future leaks (see `FimProtocol._execute_handler`)."""
    return len(protocol._request_futures)


def param(obj: Any, name: str) -> Any:
    """A field of params pygls hands over as a namedtuple (custom methods) or a dict."""
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
