"""The frame parser, pure: any bytes in, whole bodies out, bounded memory, and a valid message
after any garbage comes through."""

from __future__ import annotations

import json
import re

from hypothesis import assume, given
from hypothesis import strategies as st
from strategies import fuzz_settings

from lsp_server.transport import MAX_HEADER_LINE, FrameError, FrameParser


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def drain(parser: FrameParser) -> list[bytes | FrameError]:
    """What a transport does: take every item, recovering after a body that is not JSON."""
    out: list[bytes | FrameError] = []
    while (item := parser.next()) is not None:
        out.append(item)
        if isinstance(item, bytes):
            try:
                json.loads(item)
            except ValueError:
                parser.recover(item)
    return out


def run(chunks: list[bytes]) -> list[bytes | FrameError]:
    parser = FrameParser(max_body=10_000)
    out: list[bytes | FrameError] = []
    for chunk in chunks:
        parser.feed(chunk)
        out += drain(parser)
    return out


def bodies(items: list[bytes | FrameError]) -> list[bytes]:
    return [i for i in items if isinstance(i, bytes)]


VALID = b'{"jsonrpc":"2.0","id":"probe","method":"fimLsp/stats"}'


def test_headers_in_any_case_and_other_headers_are_accepted() -> None:
    data = b"content-length: 2\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{}" + frame(VALID)
    assert bodies(run([data])) == [b"{}", VALID]


@fuzz_settings(200)
@given(st.lists(st.binary(max_size=20), max_size=6), st.data())
def test_frames_split_anywhere_give_the_same_bodies(payloads: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(frame(p) for p in payloads)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    assert bodies(run(chunks)) == payloads


GARBAGE_PARTS = st.sampled_from([b"Content-Length: ", b"\r\n", b"\r\n\r\n", b"{", b"}", b":", b"\n",
                                 b"Content-Length: 1000000000000000\r\n\r\n{}",
                                 b"Content-Length: 9999999999999999999999999\r\n\r\n",
                                 b"Content-Length: -1\r\n\r\n", b"Content-Type: x\r\n"])
GARBAGE = st.lists(st.binary(max_size=30) | GARBAGE_PARTS | st.integers(0, 300).map(lambda n: b"%d" % n),
                   max_size=12).map(b"".join)


@fuzz_settings(400)
@given(GARBAGE, st.integers(1, 64))
def test_a_valid_message_after_any_garbage_comes_through(garbage: bytes, chunk: int) -> None:
    # By the protocol the bytes after a header are its body: filler completes the bodies the
    # garbage declared and never sent, as the next bytes of a live client would.
    declared = sum(int(n) for n in re.findall(rb"Content-Length:\s*(\d{1,12})", garbage) if int(n) <= 10_000)
    assume(declared <= 2**20)
    stream = garbage + b" " * (declared + 100) + frame(VALID)
    items = run([stream[i : i + chunk] for i in range(0, len(stream), chunk)])
    assert VALID in bodies(items)


def test_a_huge_length_is_skipped_without_waiting_for_its_body() -> None:
    items = run([b"Content-Length: 1000000000000000\r\n\r\n{}", frame(VALID)])
    assert isinstance(items[0], FrameError) and bodies(items) == [VALID]


def test_garbage_without_headers_is_dropped_as_it_comes() -> None:
    parser = FrameParser()
    for _ in range(200):
        parser.feed(b"x" * 50_000)
        drain(parser)
    assert len(parser._buf) <= MAX_HEADER_LINE + 20


def test_a_header_after_garbage_without_a_line_end_is_found() -> None:
    assert bodies(run([b"junk without a line end", frame(VALID)])) == [VALID]
    assert bodies(run([b"Content-Length: 1", frame(VALID)])) == [VALID]  # a header cut short


def test_a_message_swallowed_by_a_short_frame_is_recovered() -> None:
    # The client declared 209 bytes and sent none: the next message is read as that body.
    assert VALID in bodies(run([b"Content-Length: 209\r\n\r\n", frame(VALID), b" " * 300]))
