"""The protocol fuzzer: the real server (scripted engine) over its real stdio transport.

Invariants, checked after every example:
- the process never dies;
- every request with an id gets a result or an error;
- a valid request after any garbage is answered;
- each open document's text equals the same edits applied by the reference (reference.py).

CI runs a fixed-seed, short budget (well under a minute in all); set FIM_LSP_FUZZ_BUDGET=N to
run N times the examples with random seeds, e.g. FIM_LSP_FUZZ_BUDGET=50 for about ten minutes.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from raw_client import RawServer, fake_server_command, frame
from reference import Edit, apply, clean
from strategies import coords, fim_settings, fuzz_settings, json_values, notifications, texts

from lsp_server.transport import MAX_BODY

# Every method the server answers or listens to, and a few it does not know.
METHODS = ["textDocument/inlineCompletion", "textDocument/completion", "fimLsp/stats", "textDocument/didOpen",
           "textDocument/didChange", "textDocument/didClose", "workspace/didChangeConfiguration",
           "$/cancelRequest", "$/setTrace", "initialized", "window/workDoneProgress/cancel", "no/such",
           "textDocument/hover", "$/unknown"]
URIS = [f"file:///work/demo/f{i}.py" for i in range(3)] + ["file:///work/demo/%F0%9F%98%80.py", "untitled:Untitled-1",
                                                            "file:///", "not a uri", "file:///work/d\ud800.py"]
serial = itertools.count()


@pytest.fixture(scope="module")
def server() -> Iterator[RawServer]:
    srv = RawServer(fake_server_command())
    srv.initialize({"nThreads": 1})
    assert srv.wait_status() == "ready"
    yield srv
    assert srv.alive, srv.stderr[-3000:]
    assert srv.close() == 0


def answered(srv: RawServer, ids: list[Any], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    for msg_id in ids:
        reply = srv.response(msg_id, timeout=max(0.1, deadline - time.monotonic()))
        assert ("result" in reply) != ("error" in reply), reply
    assert srv.alive, srv.stderr[-3000:]


def probe(srv: RawServer) -> None:
    """A valid request is answered."""
    answered(srv, [srv.request("fimLsp/stats", {})])


# -- arbitrary bytes ---------------------------------------------------------------------------

GARBAGE_PARTS = st.sampled_from([
    b"Content-Length: ", b"\r\n", b"\r\n\r\n", b":", b"{", b"}", b"[", b"\xff\xfe", b"\x00",
    b"Content-Length: 1000000000000000\r\n\r\n{}", b"Content-Length: 9999999999999999999999999\r\n\r\n",
    b"Content-Length: -1\r\n\r\n", b"Content-Type: application/vscode-jsonrpc\r\n",
    b'{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{}}', b'{"jsonrpc":"2.0"}', b"[[[[[[[[",
    b'{"jsonrpc":"2.0","id":null,"method":"x"}', b"\xed\xa0\x80", b'"\\ud800"',
])
GARBAGE = st.lists(st.binary(max_size=40) | GARBAGE_PARTS | st.integers(0, 300).map(lambda n: b"%d" % n),
                   max_size=16).map(b"".join)
DECLARED = re.compile(rb"Content-Length:\s*(\d{1,12})")


def filler(garbage: bytes) -> bytes:
    """Bytes that complete every body the garbage declared and never sent: by the protocol, the
    bytes after a header are its body, whatever they are, so a valid message sent before them
    would be read as (part of) that body."""
    lengths = [int(n) for n in DECLARED.findall(garbage) if int(n) <= MAX_BODY]
    return b" " * (sum(lengths) + 4096)


@fuzz_settings(200)
@given(garbage=GARBAGE)
def test_any_bytes_then_a_valid_request(server: RawServer, garbage: bytes) -> None:
    pad = filler(garbage)
    assume(len(pad) <= 2**20)
    server.write(garbage + pad)
    msg_id = f"after-garbage-{next(serial)}"
    server.write(frame(b'{"jsonrpc":"2.0","id":"%s","method":"fimLsp/stats","params":{}}' % msg_id.encode()))
    answered(server, [msg_id])


def test_deep_json_and_a_huge_declared_body(server: RawServer) -> None:
    server.write(frame(b"[" * 100_000 + b"]" * 100_000))  # RecursionError in the decoder
    server.write(b"Content-Length: 268435457\r\n\r\n")  # one byte over the limit
    probe(server)


# -- structured: every method, random params, positions, versions, URIs, settings ---------------

def position(draw: st.DrawFn) -> dict[str, Any]:
    return {"line": draw(coords), "character": draw(coords)}


@st.composite
def operations(draw: st.DrawFn) -> list[tuple[str, Any]]:
    ops: list[tuple[str, Any]] = []
    for _ in range(draw(st.integers(1, 14))):
        kind = draw(st.sampled_from(["open", "change", "change", "close", "inline", "inline", "completion",
                                     "settings", "cancel", "raw", "raw", "stats"]))
        uri = draw(st.sampled_from(URIS))
        if kind == "open":
            ops.append((kind, (uri, draw(texts), draw(st.integers(-5, 2**31 - 1)),
                               draw(st.sampled_from(["python", "javascript", "", "plaintext"])))))
        elif kind == "change":
            ops.append((kind, (uri, draw(st.integers(-5, 2**31 - 1)), draw(notifications))))
        elif kind in ("inline", "completion"):
            context: Any = {"triggerKind": draw(st.integers(0, 3))}
            if kind == "inline" and draw(st.booleans()):
                rng: Any = {"start": position(draw), "end": position(draw)}
                if draw(st.booleans()):
                    rng = [rng["start"], rng["end"]]  # vscode-languageclient 9's shape
                context["selectedCompletionInfo"] = {"range": rng, "text": draw(texts)}
            ops.append((kind, {"textDocument": {"uri": uri}, "position": position(draw), "context": context}))
        elif kind == "settings":
            ops.append((kind, draw(fim_settings)))
        elif kind == "raw":
            ops.append((kind, (draw(st.sampled_from(METHODS)), draw(json_values), draw(st.booleans()))))
        elif kind == "close":
            ops.append((kind, uri))
        else:
            ops.append((kind, None))
    return ops


def run(srv: RawServer, ops: list[tuple[str, Any]], docs: dict[str, str]) -> list[Any]:
    """Send the operations; the ids of the requests sent, and the reference texts in ``docs``."""
    ids: list[Any] = []
    for kind, arg in ops:
        if kind == "open":
            uri, text, version, language = arg
            srv.open(uri, text, version, language)
            docs[uri] = clean(text)
        elif kind == "change":
            uri, version, edits = arg
            srv.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version},
                                                  "contentChanges": [_change(e) for e in edits]})
            if uri in docs:
                docs[uri] = apply(docs[uri], edits, "utf-16")
        elif kind == "close":
            srv.notify("textDocument/didClose", {"textDocument": {"uri": arg}})
            docs.pop(arg, None)
        elif kind == "inline":
            ids.append(srv.request("textDocument/inlineCompletion", arg))
        elif kind == "completion":
            ids.append(srv.request("textDocument/completion", arg))
        elif kind == "settings":
            srv.settings = {"nThreads": 1, **arg}  # what workspace/configuration will answer
            srv.notify("workspace/didChangeConfiguration", {"settings": None})
        elif kind == "cancel" and ids:
            srv.notify("$/cancelRequest", {"id": ids[-1]})
        elif kind == "raw":
            method, params, as_request = arg
            if as_request:
                ids.append(srv.request(method, params))
            else:
                srv.notify(method, params)
        elif kind == "stats":
            ids.append(srv.request("fimLsp/stats"))  # no params at all
    return ids


def _change(edit: Edit) -> dict[str, Any]:
    if edit.range is None:
        return {"text": edit.text}
    sl, sc, el, ec = edit.range
    return {"range": {"start": {"line": sl, "character": sc}, "end": {"line": el, "character": ec}}, "text": edit.text}


def check_documents(srv: RawServer, docs: dict[str, str]) -> None:
    for uri, expected in docs.items():
        reply = srv.call("fuzz/documentText", {"uri": uri})
        assert reply.get("result") is not None, (uri, reply)
        assert reply["result"]["text"] == expected, uri


def close_all(srv: RawServer) -> None:
    for uri in URIS:
        srv.notify("textDocument/didClose", {"textDocument": {"uri": uri}})


@fuzz_settings(150)
@given(ops=operations())
def test_every_request_answered_and_documents_match_the_reference(server: RawServer, ops: list[tuple[str, Any]]) -> None:
    close_all(server)
    docs: dict[str, str] = {}
    ids = run(server, ops, docs)
    answered(server, ids)
    check_documents(server, docs)
    probe(server)


def test_requests_after_shutdown_get_an_error_and_exit_ends_with_0() -> None:
    srv = RawServer(fake_server_command())
    try:
        srv.initialize({"nThreads": 1})
        srv.open(URIS[0], "x = 1\n")
        pending = srv.inline(URIS[0], 1, 0)
        assert "result" in srv.call("shutdown")
        late = [srv.request("fimLsp/stats", {}), srv.inline(URIS[0], 0, 0), srv.request("shutdown")]
        answered(srv, [pending])
        for msg_id in late:
            assert srv.response(msg_id, timeout=10)["error"]["code"] == -32600
        srv.notify("exit")
        assert srv.proc.wait(timeout=30) == 0
    finally:
        srv.proc.kill()
