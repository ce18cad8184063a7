"""A tiny HTTP server on 127.0.0.1 that answers with recorded responses and records requests.

Used for the backends we cannot run here (Ollama) and for failure modes that are awkward to
produce with a real engine. It streams with chunked transfer encoding, one recorded line per
chunk, so the engines' real streaming and abort code runs against it.
"""

from __future__ import annotations

import json
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


def recorded(name: str, status: int = 200, delay_s: float = 0.0) -> Reply:
    """A reply from tests/remote/data; .ndjson and .sse files are streamed line by line."""
    path = DATA / name
    body = path.read_bytes()
    if path.suffix == ".ndjson":
        return Reply(status, body, "application/x-ndjson", True, delay_s)
    if path.suffix == ".sse":
        return Reply(status, body, "text/event-stream", True, delay_s)
    return Reply(status, body)


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class ReplayServer:
    routes: dict[tuple[str, str], Reply]
    requests: list[Request] = field(default_factory=list)
    disconnects: int = 0  # streams the client closed before the end
    port: int = 0
    _httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ReplayServer:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def last(self, path: str) -> Request:
        return [r for r in self.requests if r.path == path][-1]


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
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                for line in reply.body.splitlines(keepends=True):
                    time.sleep(reply.delay_s)
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except OSError:
                server.disconnects += 1
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    return Handler
