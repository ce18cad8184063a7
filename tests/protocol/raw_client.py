"""A JSON-RPC client that writes raw bytes to a real server process over stdio.

Typed clients refuse to build what a broken or hostile editor sends (no params, a list for
params, a bad header), so the protocol tests and the fuzzer use this one. A reader thread
collects the server's messages; the server's own requests (workspace/configuration, progress)
are answered unless the test holds them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parents[2]
FAKE_SERVER = Path(__file__).resolve().parent / "fake_server.py"
NO_PARAMS = object()


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def server_env() -> dict[str, str]:
    """The worktree's code first, whatever the virtual environment's editable install points at."""
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), path) if p)}


def fake_server_command(*args: str) -> list[str]:
    """fim-lsp with a scripted engine: the protocol layers are real, no model is loaded."""
    return [sys.executable, str(FAKE_SERVER), *args]


def real_server_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "lsp_server", *args]


class RawServer:
    """One server process and what it wrote back, by request id."""

    def __init__(self, command: list[str], *, settings: dict[str, Any] | None = None,
                 answer: Callable[[dict[str, Any]], Any] | None = None) -> None:
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     cwd=REPO, env=server_env())
        self.settings = settings or {}
        self.answer = answer  # server request -> result; None: the default answers
        self.hold_server_requests = False
        self.held: list[dict[str, Any]] = []
        self.notifications: list[dict[str, Any]] = []
        self._responses: dict[Any, dict[str, Any]] = {}
        self._cond = threading.Condition()
        self._next_id = 0
        self._stderr: list[bytes] = []
        self._write_lock = threading.Lock()
        threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True).start()
        threading.Thread(target=self._drain, args=(self.proc.stderr,), daemon=True).start()

    # -- writing ---------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        with self._write_lock:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()

    def send(self, message: dict[str, Any]) -> None:
        self.write(frame(json.dumps({"jsonrpc": "2.0", **message}).encode()))

    def new_id(self) -> str:
        self._next_id += 1
        return f"r{self._next_id}"

    def request(self, method: str, params: Any = NO_PARAMS, msg_id: Any = None) -> Any:
        """Send a request; its id."""
        msg_id = self.new_id() if msg_id is None else msg_id
        message: dict[str, Any] = {"id": msg_id, "method": method}
        if params is not NO_PARAMS:
            message["params"] = params
        self.send(message)
        return msg_id

    def notify(self, method: str, params: Any = NO_PARAMS) -> None:
        message: dict[str, Any] = {"method": method}
        if params is not NO_PARAMS:
            message["params"] = params
        self.send(message)

    def call(self, method: str, params: Any = NO_PARAMS, timeout: float = 30) -> dict[str, Any]:
        """A request and its whole response message (``result`` or ``error``)."""
        return self.response(self.request(method, params), timeout)

    def initialize(self, settings: dict[str, Any] | None = None, process_id: int | None = None,
                   capabilities: dict[str, Any] | None = None) -> dict[str, Any]:
        if settings is not None:
            self.settings = settings
        caps = capabilities if capabilities is not None else {"workspace": {"configuration": True}}
        answer = self.call("initialize", {"processId": process_id, "capabilities": caps, "rootUri": "file:///work/demo",
                                          "initializationOptions": self.settings})
        self.notify("initialized", {})
        return answer

    def open(self, uri: str, text: str, version: int = 1, language: str = "python") -> None:
        self.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": language, "version": version,
                                                              "text": text}})

    def inline(self, uri: str, line: int, character: int, kind: int = 2) -> Any:
        """A request id: inline completion at a position."""
        return self.request("textDocument/inlineCompletion", {
            "textDocument": {"uri": uri}, "position": {"line": line, "character": character},
            "context": {"triggerKind": kind}})

    # -- reading ---------------------------------------------------------------------------

    def response(self, msg_id: Any, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while msg_id not in self._responses:
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and msg_id not in self._responses):
                    raise AssertionError(f"no response to {msg_id!r} (server {'alive' if self.alive else 'dead'});"
                                         f" stderr tail:\n{self.stderr[-3000:]}")
                self._cond.wait(min(left, 0.2))
            return self._responses.pop(msg_id)

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 30) -> dict[str, Any]:
        """The first notification the predicate accepts."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for message in self.notifications:
                    if predicate(message):
                        return message
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no such notification; stderr tail:\n{self.stderr[-3000:]}")
                self._cond.wait(min(left, 0.2))

    def wait_status(self, states: tuple[str, ...] = ("ready", "error"), timeout: float = 120) -> str:
        status = self.wait_for(lambda m: m.get("method") == "fimLsp/status"
                               and m.get("params", {}).get("state") in states, timeout)
        return str(status["params"]["state"])

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    @property
    def stderr(self) -> str:
        return b"".join(self._stderr).decode(errors="replace")

    def reply(self, request: dict[str, Any], result: Any) -> None:
        self.send({"id": request["id"], "result": result})

    def close(self, timeout: float = 30) -> int:
        """Shut down politely if still running; the exit status."""
        if self.alive:
            try:
                self.call("shutdown", timeout=timeout)
                self.notify("exit")
            except (AssertionError, OSError):
                pass
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def _default_answer(self, request: dict[str, Any]) -> Any:
        if request.get("method") == "workspace/configuration":
            return [self.settings for _ in request.get("params", {}).get("items", [])]
        return None

    def _read(self, stream: IO[bytes]) -> None:
        while (message := _read_message(stream)) is not None:
            if "method" in message and "id" in message:
                if self.hold_server_requests:
                    with self._cond:
                        self.held.append(message)
                    continue
                result = (self.answer or self._default_answer)(message)
                try:
                    self.reply(message, result)
                except OSError:
                    return
                continue
            with self._cond:
                if "id" in message:
                    self._responses[message["id"]] = message
                else:
                    self.notifications.append(message)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def _drain(self, stream: IO[bytes]) -> None:
        while chunk := stream.read1(65536):  # type: ignore[attr-defined]
            self._stderr.append(chunk)
            if len(self._stderr) > 2000:
                del self._stderr[:1000]


def _read_message(stream: IO[bytes]) -> dict[str, Any] | None:
    length = -1
    while True:
        line = stream.readline()
        if not line:
            return None
        if not line.strip():
            break
        name, _, value = line.decode("ascii", "replace").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    if length < 0:
        raise AssertionError("the server wrote a message without Content-Length")
    body = stream.read(length)
    if len(body) < length:
        return None
    return json.loads(body)
