"""The serving loop: our own reader over stdio or TCP, with limits, and the editor-process watch."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import BinaryIO, Protocol

from lsp_server.transport import FrameError, FrameParser, pid_alive

log = logging.getLogger(__name__)

# How often the editor process (initialize.processId) is checked for.
PARENT_POLL_S = 1.0
READ_CHUNK = 65536


class Receiver(Protocol):
    """What the loop feeds: `FimProtocol`."""

    _shutdown: bool

    def set_writer(self, writer: object) -> None: ...

    def receive(self, body: bytes) -> bool: ...


class ServeLoop:
    """Reads messages until the client is gone, says exit, or its editor process ends; then
    ``close`` runs once and the exit status is returned."""

    def __init__(self, protocol: Receiver, close: Callable[[], Awaitable[None]]) -> None:
        self._protocol = protocol
        self._close = close
        self._stop: asyncio.Event | None = None
        self._exit_code: int | None = None
        self._watch: asyncio.Task[None] | None = None

    def stdio(self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> int:
        """Serve over a pair of byte streams; the exit status."""
        inp, out = stdin or sys.stdin.buffer, stdout or sys.stdout.buffer
        self._protocol.set_writer(_StreamWriter(out, self.request_exit))
        return asyncio.run(self._serve(_stream_chunks(inp)))

    def tcp(self, host: str, port: int) -> int:
        """Serve the first client that connects to host:port, then exit; the exit status."""
        return asyncio.run(self._serve_tcp(host, port))

    def request_exit(self, code: int) -> None:
        if self._exit_code is None:
            self._exit_code = code
        if self._stop is not None:
            self._stop.set()

    def watch_parent(self, pid: int | None) -> None:
        """Exit when the editor process (initialize.processId) is gone, whatever the transport:
        a server over TCP, or one whose pipes another process holds, would outlive it."""
        if self._watch is not None:
            self._watch.cancel()
        if isinstance(pid, int) and pid > 0 and pid != os.getpid():
            self._watch = asyncio.ensure_future(self._watch_parent(pid))

    async def _watch_parent(self, pid: int) -> None:
        while pid_alive(pid):
            await asyncio.sleep(PARENT_POLL_S)
        log.warning("the editor (process %d) is gone: exiting", pid)
        self.request_exit(1)

    async def _serve_tcp(self, host: str, port: int) -> int:
        connected: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Future()

        def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if connected.done():
                log.warning("a second client connected: refused (one editor per server)")
                writer.close()
                return
            connected.set_result((reader, writer))

        listener = await asyncio.start_server(accept, host, port)
        log.info("serving on %s", ", ".join(str(sock.getsockname()) for sock in listener.sockets))
        reader, writer = await connected
        listener.close()
        self._protocol.set_writer(writer)
        try:
            return await self._serve(lambda: reader.read(READ_CHUNK))
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), timeout=5)

    async def _serve(self, read: Callable[[], Awaitable[bytes]]) -> int:
        self._stop = asyncio.Event()
        pump = asyncio.ensure_future(self._pump(read))
        stop = asyncio.ensure_future(self._stop.wait())
        await asyncio.wait({pump, stop}, return_when=asyncio.FIRST_COMPLETED)
        for task in (pump, stop):
            task.cancel()
        if pump.done() and not pump.cancelled() and pump.exception() is not None:
            log.error("the reader failed", exc_info=pump.exception())
        if self._watch is not None:
            self._watch.cancel()
        await self._close()
        return self._exit_code if self._exit_code is not None else (0 if self._protocol._shutdown else 1)

    async def _pump(self, read: Callable[[], Awaitable[bytes]]) -> None:
        parser = FrameParser()
        while chunk := await read():
            parser.feed(chunk)
            while (item := parser.next()) is not None:
                if isinstance(item, FrameError):
                    log.error("skipped bytes that were not a message: %s", item.reason)
                elif not self._protocol.receive(item):
                    parser.recover(item)
                await asyncio.sleep(0)  # let handlers run between messages of one read


class _StreamWriter:
    """stdout for the protocol; a client that is gone (a broken pipe) ends the server instead of
    raising inside whichever handler answered last."""

    def __init__(self, stream: BinaryIO, request_exit: Callable[[int], None]) -> None:
        self._stream, self._request_exit = stream, request_exit

    def write(self, data: bytes) -> None:
        try:
            self._stream.write(data)
            self._stream.flush()
        except (OSError, ValueError) as err:  # ValueError: the stream was closed
            log.warning("cannot write to the client (%s): exiting", err)
            self._request_exit(1)

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._stream.close()


def _stream_chunks(stream: BinaryIO) -> Callable[[], Awaitable[bytes]]:
    """Chunks of a blocking stream, read on a daemon thread (a blocked read must not keep the
    process alive once serving ends); at most a few chunks wait, so a flood cannot fill memory."""
    queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=16)
    loop: asyncio.AbstractEventLoop | None = None
    try:  # the file descriptor itself: a daemon thread blocked inside a buffered reader's lock
        fd: int | None = stream.fileno()  # aborts the interpreter at exit
    except (OSError, ValueError, AttributeError):
        fd = None

    def pump() -> None:
        assert loop is not None
        while True:
            try:
                chunk = os.read(fd, READ_CHUNK) if fd is not None else stream.read1(READ_CHUNK)  # type: ignore[attr-defined]
            except (OSError, ValueError):
                chunk = b""
            put = queue.put(chunk)
            try:
                asyncio.run_coroutine_threadsafe(put, loop).result()
            except (RuntimeError, concurrent.futures.CancelledError):  # the loop is gone: serving ended
                put.close()  # never scheduled, or dropped with the loop: no "never awaited" warning
                return
            if not chunk:
                return

    async def read() -> bytes:
        nonlocal loop
        if loop is None:
            loop = asyncio.get_running_loop()
            threading.Thread(target=pump, name="fim-stdin", daemon=True).start()
        return await queue.get()

    return read
