"""A tiny HTTP server on 127.0.0.1 that answers with recorded responses and records requests.

Used for the backends we cannot run here (Ollama) and for failure modes that are awkward to
produce with a real engine. It streams with chunked transfer encoding, one recorded line per
chunk, so the engines' real streaming and abort code runs against it.

Each streamed reply is logged as a `Stream`: how many lines it sent, and whether the client hung up
before the end. While it waits between lines it watches the socket, so a client that closes the
connection is seen at once, with the number of lines it had been sent: what a real engine would
see when a cancel or a deadline reaches it. Tests assert on that instead of on wall-clock time.
"""

from __future__ import annotations

import json
import select
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    stream: bool = False  # send body line by line as chunks
    delay_s: float = 0.0  # pause before each streamed line
    first_delay_s: float | None = None  # pause before the first line (slow prompt); else delay_s


def recorded(
    name: str, status: int = 200, delay_s: float = 0.0, first_delay_s: float | None = None
) -> Reply:
    """A reply from tests/remote/data; .ndjson and .sse files are streamed line by line."""
    path = DATA / name
    body = path.read_bytes()
    if path.suffix == ".ndjson":
        return Reply(status, body, "application/x-ndjson", True, delay_s, first_delay_s)
    if path.suffix == ".sse":
        return Reply(status, body, "text/event-stream", True, delay_s, first_delay_s)
    return Reply(status, body)


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Stream:
    """One streamed reply, as the server saw it."""

    path: str
    lines: int  # lines in the recorded body
    sent: int = 0  # lines written to the client
    hung_up: bool = False  # the client closed the connection before the last line
    ended: threading.Event = field(default_factory=threading.Event)  # the handler is done

    def wait_ended(self, timeout_s: float = 30.0) -> Stream:
        """This stream once its handler is done (a generous bound: it only guards a hang)."""
        assert self.ended.wait(timeout_s), f"the replay server is still streaming: {self}"
        return self


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client that resets its connection is what these tests expect
        super().handle_error(request, client_address)


@dataclass
class ReplayServer:
    routes: dict[tuple[str, str], Reply]
    requests: list[Request] = field(default_factory=list)
    streams: list[Stream] = field(default_factory=list)
    disconnects: int = 0  # streams the client closed before the end
    port: int = 0
    _httpd: _HTTPServer | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ReplayServer:
        self._stopping.clear()
        self._httpd = _HTTPServer(("127.0.0.1", self.port), _handler(self))
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # streams pausing between lines end now
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def last(self, path: str) -> Request:
        return [r for r in self.requests if r.path == path][-1]

    def last_stream(self, path: str) -> Stream:
        return [s for s in self.streams if s.path == path][-1]

    def pause(self, conn: socket.socket, seconds: float) -> bool:
        """Wait ``seconds`` between lines; True as soon as the client closes the connection."""
        end = time.monotonic() + seconds
        while not self._stopping.is_set():
            left = end - time.monotonic()
            if left <= 0:
                return False
            readable, _, _ = select.select([conn], [], [], min(left, 0.05))
            if readable:
                try:
                    if conn.recv(1, socket.MSG_PEEK) == b"":
                        return True  # EOF: the client shut the connection down
                except OSError:
                    return True
                time.sleep(min(left, 0.05))  # unexpected bytes: leave them, keep waiting
        return False


def _handler(server: ReplayServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def _answer(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            server.requests.append(Request(method, self.path, dict(self.headers), body))
            reply = server.routes.get((method, self.path)) or Reply(404, b'{"error": "no route"}')
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            if not reply.stream:
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
                return
            lines = reply.body.splitlines(keepends=True)
            stream = Stream(self.path, len(lines))
            server.streams.append(stream)  # before the headers: logged before the client knows
            try:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                first = reply.delay_s if reply.first_delay_s is None else reply.first_delay_s
                for n, line in enumerate(lines):
                    if server.pause(self.connection, first if n == 0 else reply.delay_s):
                        raise ConnectionResetError("the client hung up")
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                    self.wfile.flush()
                    stream.sent += 1
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except OSError:
                stream.hung_up = True
                server.disconnects += 1
                self.close_connection = True
            finally:
                stream.ended.set()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    return Handler
