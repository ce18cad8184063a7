"""What a broken or hostile client sends, through the real stdio and TCP transports.

Each test is one way a client broke the server before (issue 11): a header that crashed it, a
request that got no answer, a shutdown that failed, an exit status, a server left running after
its editor died. The server here is the real one with a scripted engine (fake_server.py); the
real model's share (a 200,000-character line) is in test_long_lines.py.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from typing import Any

import pytest
from raw_client import REPO, RawServer, fake_server_command, frame, server_env

URI = "file:///work/demo/a.py"


@pytest.fixture
def server() -> Any:
    srv = RawServer(fake_server_command())
    srv.initialize({"nThreads": 1})
    assert srv.wait_status() == "ready"
    yield srv
    srv.close()


def answered(srv: RawServer) -> None:
    """The server is up and answers a valid request."""
    reply = srv.call("fimLsp/stats", {}, timeout=30)
    assert "result" in reply and isinstance(reply["result"], dict), reply


@pytest.mark.parametrize("length", [b"1000000000000000", b"9999999999999999999999999", b"-5", b"12abc", b""])
def test_an_absurd_content_length_is_skipped_and_the_next_request_answered(server: RawServer, length: bytes) -> None:
    server.write(b"Content-Length: " + length + b"\r\n\r\n{}")
    answered(server)
    assert server.alive


def test_a_header_line_that_never_ends_is_dropped(server: RawServer) -> None:
    server.write(b"X-Junk: " + b"a" * 300_000)
    server.write(b"\r\n\r\n")
    answered(server)


@pytest.mark.parametrize("method", ["fimLsp/stats", "shutdown"])
def test_a_request_without_params_is_answered(server: RawServer, method: str) -> None:
    reply = server.call(method, timeout=10)  # no "params" member: JSON-RPC and LSP allow it
    assert "result" in reply, reply


def test_an_unknown_method_without_params_gets_method_not_found(server: RawServer) -> None:
    reply = server.call("no/suchMethod", timeout=10)
    assert reply["error"]["code"] == -32601, reply


@pytest.mark.parametrize("params", [[1], 5, "s", True, None, {"textDocument": 3}])
def test_inline_completion_with_params_of_the_wrong_shape_gets_invalid_params(server: RawServer, params: Any) -> None:
    reply = server.call("textDocument/inlineCompletion", params, timeout=10)
    assert reply.get("error", {}).get("code") == -32602, reply
    answered(server)


@pytest.mark.parametrize("message", [
    {"id": 7, "method": 5},  # method of the wrong type
    {"jsonrpc": "1.0", "id": 8, "method": "fimLsp/stats", "params": {}},
    {"id": 9, "method": "fimLsp/stats", "params": {}},  # no jsonrpc member
])
def test_an_invalid_request_with_an_id_gets_an_error(server: RawServer, message: dict[str, Any]) -> None:
    server.write(frame(json.dumps(message).encode()))
    reply = server.response(message["id"], timeout=10)
    assert reply["error"]["code"] == -32600, reply


def test_shutdown_while_a_configuration_request_is_unanswered() -> None:
    srv = RawServer(fake_server_command())
    srv.hold_server_requests = True  # never answer workspace/configuration
    try:
        srv.initialize({"nThreads": 1})
        deadline = time.monotonic() + 10
        while not srv.held and time.monotonic() < deadline:
            time.sleep(0.05)
        assert srv.held and srv.held[0]["method"] == "workspace/configuration"
        reply = srv.call("shutdown", timeout=10)
        assert reply.get("result", "missing") is None, reply
        srv.notify("exit")
        assert srv.proc.wait(timeout=30) == 0
    finally:
        srv.proc.kill()


def test_exit_without_shutdown_ends_with_status_1(server: RawServer) -> None:
    server.notify("exit")
    assert server.proc.wait(timeout=30) == 1


def test_shutdown_then_exit_ends_with_status_0(server: RawServer) -> None:
    assert server.call("shutdown", timeout=10).get("result", "missing") is None
    server.notify("exit")
    assert server.proc.wait(timeout=30) == 0


def _editor() -> subprocess.Popen[bytes]:
    """A stand-in for the editor process whose id goes in initialize.processId."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])


def _wait_exit(proc: subprocess.Popen[bytes], timeout: float) -> int | None:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


def test_stdio_server_exits_when_its_editor_process_dies() -> None:
    editor = _editor()
    srv = RawServer(fake_server_command())
    try:
        srv.initialize({"nThreads": 1}, process_id=editor.pid)
        assert srv.wait_status() == "ready"
        answered(srv)
        editor.kill()
        editor.wait()
        # stdin stays open (this test holds it): only the watch can notice.
        assert _wait_exit(srv.proc, 15) is not None, "the server outlived its editor"
    finally:
        srv.proc.kill()
        editor.kill()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tcp_call(sock: socket.socket, message: bytes) -> dict[str, Any]:
    """Send one framed message; read framed messages until a response with an id comes."""
    sock.sendall(message)
    stream = sock.makefile("rb")
    while True:
        length = 0
        while (line := stream.readline()).strip():
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        body = json.loads(stream.read(length))
        if "id" in body and "method" not in body:
            return body  # type: ignore[no-any-return]


def _tcp_server() -> tuple[subprocess.Popen[bytes], int]:
    """The scripted server in TCP mode on a free port (not yet necessarily listening)."""
    port = _free_port()
    proc = subprocess.Popen(fake_server_command("--tcp", "--port", str(port)), stderr=subprocess.PIPE,
                            cwd=REPO, env=server_env())
    return proc, port


def _connect(port: int) -> socket.socket:
    """A connection to the TCP server once it listens (it may still be starting)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=30)
        except OSError:
            assert time.monotonic() < deadline, "the TCP server never listened"
            time.sleep(0.1)


def test_tcp_server_exits_when_its_editor_process_dies() -> None:
    editor = _editor()
    proc, port = _tcp_server()
    try:
        sock = _connect(port)
        with sock:
            init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                    "params": {"processId": editor.pid, "capabilities": {}}}
            assert "result" in _tcp_call(sock, frame(json.dumps(init).encode()))
            editor.kill()
            editor.wait()
            # The connection stays open (this test holds it): only the watch can notice.
            assert _wait_exit(proc, 15) is not None, "the TCP server outlived its editor"
    finally:
        proc.kill()
        editor.kill()


def test_tcp_transport_survives_an_absurd_content_length() -> None:
    proc, port = _tcp_server()
    try:
        sock = _connect(port)
        with sock:
            sock.sendall(b"Content-Length: 9999999999999999999999999\r\n\r\n{}")
            sock.sendall(b"X" * 100_000 + b"\r\n")  # and a header line past asyncio's 64 KiB limit
            init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}}
            assert "result" in _tcp_call(sock, frame(json.dumps(init).encode()))
        assert proc.poll() is None  # still serving after the garbage
    finally:
        proc.kill()


def test_a_lone_surrogate_in_the_document_gets_a_result(server: RawServer) -> None:
    server.open(URI, "x = '\ud800'\ny = ")
    reply = server.response(server.inline(URI, 1, 4), timeout=30)
    assert "result" in reply, reply


def test_lines_ended_by_a_lone_cr_are_lines() -> None:
    srv = RawServer(fake_server_command())
    try:
        srv.initialize({"nThreads": 1})
        assert srv.wait_status() == "ready"
        srv.open(URI, "a = 1\rb = 2\r")
        reply = srv.response(srv.inline(URI, 2, 0), timeout=30)
        assert "result" in reply, reply
        # The same position through an edit: a lone CR ends a line for didChange too.
        srv.notify("textDocument/didChange", {"textDocument": {"uri": URI, "version": 2}, "contentChanges": [
            {"range": {"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 1}}, "text": "c"}]})
        text = srv.call("fuzz/documentText", {"uri": URI})["result"]["text"]
        assert text == "a = 1\rc = 2\r"
    finally:
        srv.close()


def test_columns_count_utf16_units_by_default(server: RawServer) -> None:
    # Found by the fuzzer: the negotiated encoding was read as "PositionEncodingKind.Utf16" (the
    # enum's str), which counted code points, so an edit after an emoji landed one place late.
    server.open(URI, "a😀b = 1\n")
    server.notify("textDocument/didChange", {"textDocument": {"uri": URI, "version": 2}, "contentChanges": [
        {"range": {"start": {"line": 0, "character": 3}, "end": {"line": 0, "character": 4}}, "text": "c"}]})
    assert server.call("fuzz/documentText", {"uri": URI})["result"]["text"] == "a😀c = 1\n"
