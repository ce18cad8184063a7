"""The engine's worker thread(s) and stale-work dropping. Pure asyncio + threads, no pygls.

A llama.cpp context is not thread-safe, so the in-process engine gets exactly one worker that
owns it; the event loop only awaits futures. Each job has a key (the document URI): submitting
a newer job for the same key cancels the older one, which stops at its next token, and a job
still queued when it goes stale is dropped without touching the model.

The job records (`_latest`) are the event loop's; `dropped` is counted on the worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from lsp_server.engine.base import CancelToken

T = TypeVar("T")


class StaleJob(Exception):
    """The job was superseded before it started."""


class EngineWorker:
    def __init__(self, threads: int = 1) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="fim-engine")
        self._latest: dict[str, CancelToken] = {}
        self._yielding: set[str] = set()  # keys of jobs that give way to any other (next-edit)
        self.dropped = 0

    async def call(self, fn: Callable[[], T]) -> T:
        """Run on the worker with no staleness tracking (model loading, doctor)."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    def post(self, fn: Callable[[], object]) -> None:
        """Run ``fn`` on the worker after the jobs already queued; nobody waits for it. With one
        thread, this is how the event loop changes state the worker owns. After shutdown there
        is nothing left to change."""
        with contextlib.suppress(RuntimeError):
            self._pool.submit(fn)

    def cancel(self, key: str) -> None:
        self._yielding.discard(key)
        token = self._latest.pop(key, None)
        if token is not None:
            token.cancel()

    async def submit(self, key: str, fn: Callable[[CancelToken], T], yields: bool = False) -> T:
        """Run ``fn`` on the worker; cancelling the awaiting task cancels the job too. A job that
        ``yields`` (a next-edit prediction) is cancelled by any later job that does not: a
        completion never waits behind it."""
        self.cancel(key)
        if not yields:
            for other in list(self._yielding):
                self.cancel(other)
        token = CancelToken()
        self._latest[key] = token
        self._yielding.discard(key)
        if yields:
            self._yielding.add(key)

        def run() -> T:
            if token.cancelled:
                self.dropped += 1
                raise StaleJob(key)
            return fn(token)

        future = asyncio.get_running_loop().run_in_executor(self._pool, run)
        try:
            return await future
        except asyncio.CancelledError:
            token.cancel()  # the thread stops at its next token; nobody waits for it
            raise
        finally:
            if self._latest.get(key) is token:
                del self._latest[key]
                self._yielding.discard(key)

    def cancel_all(self) -> None:
        for token in self._latest.values():
            token.cancel()
        self._latest.clear()

    def shutdown(self) -> None:
        self.cancel_all()
        self._pool.shutdown(wait=False, cancel_futures=True)
