"""Aborting a streamed generation from another thread: the cancel and time-limit path.

Closing the socket is what makes the inference server stop generating (llama-server, vLLM and
Ollama all cancel a request whose client went away), and it also unblocks a read stuck waiting
for the first token.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any

from lsp_server.engine.base import CancelToken

WATCH_POLL_S = 0.01


class StreamWatch:
    """Closes a streaming response's socket when the job is cancelled or out of time.

    A per-chunk check alone cannot stop a read that is blocked waiting for the server (prompt
    processing on a busy engine); shutting the socket down wakes that read at once, and the server
    sees the client gone and frees its slot.

    Time runs out ``budget_s`` after the first generated text (the job's ``time_budget_s``: a
    cold prompt still gets its first line).
    """

    def __init__(self, cancel: CancelToken, budget_s: float | None = None) -> None:
        self._cancel = cancel
        self._deadline: float | None = None  # set when the first text arrives
        self._budget_s = budget_s
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self.reason: str | None = None  # "cancelled" | "deadline" once it fired

    def generating(self) -> None:
        """The first text arrived: the generation time budget starts now."""
        if self._budget_s is not None:
            self._deadline = time.monotonic() + self._budget_s
            self._budget_s = None

    def due(self) -> str | None:
        """Why the stream must stop now, if it must."""
        if self._cancel.cancelled:
            return "cancelled"
        deadline = self._deadline
        if deadline is not None and time.monotonic() >= deadline:
            return "deadline"
        return None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="fim-lsp-stream-watch", daemon=True)
        self._thread.start()

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore's trace hook: keep the socket of the connection this request opens.

        llama-server sends no response headers until the prompt is processed, so the socket must
        be known before a response exists for a cancel during prompt processing to reach it.
        """
        if event != "connection.connect_tcp.complete":
            return
        stream = info.get("return_value")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            with self._lock:
                self._sock = sock
                if self.reason is not None:  # aborted while connecting
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)

    def _run(self) -> None:
        while not self._done.wait(WATCH_POLL_S):
            reason = self.due()
            if reason is not None:
                self.abort(reason)
                return

    def abort(self, reason: str) -> None:
        with self._lock:
            if self._done.is_set() or self.reason is not None:
                return
            self.reason = reason
            if self._sock is not None:
                with contextlib.suppress(OSError):
                    self._sock.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        """End the watch; from here on the socket is left alone (its fd may be reused)."""
        with self._lock:
            self._done.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
