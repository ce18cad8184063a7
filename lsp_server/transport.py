"""The wire under JSON-RPC: base-protocol frames with limits, and whether the editor still runs.

Pure (no pygls, no asyncio): `FrameParser` takes bytes as they arrive and gives back whole
message bodies, so a transport only moves bytes. Whatever arrives, the parser never raises and never
holds more than `MAX_BODY` bytes of one message: a bad header is reported and skipped, and
reading resumes at the next ``Content-Length`` header.
https://microsoft.github.io/language-server-protocol/specifications/base/0.9/specification/
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

MAX_BODY = 256 * 2**20  # a 5 MB file in didOpen is ~10 MB of JSON; far above any real message
MAX_HEADER_LINE = 8192
HEADER = b"Content-Length:"


@dataclass(frozen=True)
class FrameError:
    """Bytes that were not a message, and were skipped."""

    reason: str


class FrameParser:
    """Feed bytes with `feed`, take messages with `next` until it returns None."""

    def __init__(self, max_body: int = MAX_BODY) -> None:
        self._buf = bytearray()
        self._length: int | None = None  # the body length, once the headers are read
        self._seen_length: int | None = None  # Content-Length seen in the current headers
        self._skipping = False  # after a bad header: until the next Content-Length
        self._max_body = max_body

    def feed(self, data: bytes) -> None:
        self._buf += data

    def next(self) -> bytes | FrameError | None:
        """The next whole body, or what was skipped; None until more bytes arrive."""
        while self._length is None:
            if self._skipping and not self._skip():
                return None
            end = self._buf.find(b"\n", 0, MAX_HEADER_LINE + 1)
            if end < 0:
                if len(self._buf) > MAX_HEADER_LINE:
                    return self._resync(f"a header line longer than {MAX_HEADER_LINE} bytes", 1)
                return None
            start = self._buf.find(HEADER, 1, end)
            if start > 0:  # garbage, then a header: the garbage had no line end of its own
                del self._buf[:start]
                self._seen_length = None
                return FrameError("bytes before a Content-Length header")
            line = bytes(self._buf[: end + 1]).strip()
            del self._buf[: end + 1]
            if line:
                error = self._header(line)
                if error is not None:
                    return error
            elif self._seen_length is None:
                return self._resync("headers without Content-Length")
            else:
                self._length, self._seen_length = self._seen_length, None
        if len(self._buf) < self._length:
            return None
        body = bytes(self._buf[: self._length])
        del self._buf[: self._length]
        self._length = None
        return body

    def recover(self, body: bytes) -> None:
        """Call right after `next` returned a body that was not JSON: it may have swallowed the
        next message (a client sent less than its Content-Length), so read on from the first
        header inside it."""
        start = body.find(HEADER)  # progress: the header before this body is consumed
        if start >= 0:
            self._buf[:0] = body[start:]

    def _header(self, line: bytes) -> FrameError | None:
        name, sep, value = line.partition(b":")
        if not sep:
            return self._resync(f"not a header: {line[:40]!r}")
        if name.strip().lower() != b"content-length":
            return None  # Content-Type and anything else: ignored
        value = value.strip()
        if not value.isdigit() or len(value) > 12 or int(value) > self._max_body:
            return self._resync(f"Content-Length {value[:40]!r} is not a length up to {self._max_body}")
        self._seen_length = int(value)
        return None

    def _resync(self, reason: str, skip: int = 0) -> FrameError:
        """Drop bytes up to the next Content-Length header: a frame whose header was bad has no
        known end. ``skip``: bytes at the start that cannot begin that header."""
        self._seen_length = None
        self._skipping = True
        del self._buf[:skip]
        return FrameError(reason)

    def _skip(self) -> bool:
        """Drop bytes before the next header; False while there is none yet."""
        start = self._buf.find(HEADER)
        if start < 0:
            del self._buf[: max(0, len(self._buf) - len(HEADER) + 1)]  # keep a split header's head
            return False
        del self._buf[:start]
        self._skipping = False
        return True


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie does not): the editor that started us."""
    if pid <= 0:
        return True  # not a process we can watch
    if sys.platform == "win32":  # pragma: no cover - os.kill(pid, 0) would terminate it there
        return _windows_pid_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # someone else's process; or no such pid on this platform's range
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def _windows_pid_alive(pid: int) -> bool:  # pragma: no cover
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x00100000, False, pid)  # SYNCHRONIZE
    if not handle:
        return False
    try:
        return bool(kernel32.WaitForSingleObject(handle, 0) == 0x102)  # WAIT_TIMEOUT: still running
    finally:
        kernel32.CloseHandle(handle)
