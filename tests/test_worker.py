from __future__ import annotations

import asyncio
import threading
import time

import pytest

from lsp_server.engine.base import CancelToken
from lsp_server.engine.worker import EngineWorker, StaleJob


def _spin(started: threading.Event, seen: list[str], name: str):  # type: ignore[no-untyped-def]
    def job(token: CancelToken) -> str:
        started.set()
        for _ in range(500):  # a "decode loop" checking its token every step
            if token.cancelled:
                seen.append(f"{name}:cancelled")
                return "cancelled"
            time.sleep(0.01)
        seen.append(f"{name}:done")
        return "done"

    return job


async def test_newer_job_for_same_key_cancels_running_and_drops_queued() -> None:
    worker = EngineWorker()
    seen: list[str] = []
    started = threading.Event()
    first = asyncio.ensure_future(worker.submit("doc", _spin(started, seen, "first")))
    await asyncio.get_running_loop().run_in_executor(None, started.wait)
    second = asyncio.ensure_future(worker.submit("doc", _spin(threading.Event(), seen, "second")))
    await asyncio.sleep(0)
    third = asyncio.ensure_future(worker.submit("doc", lambda token: "third"))
    assert await first == "cancelled"
    with pytest.raises(StaleJob):
        await second  # queued behind the first and stale before it ran: never touched the model
    assert await third == "third"
    assert worker.dropped == 1
    worker.shutdown()


async def test_cancelling_the_awaiting_task_stops_the_thread_quickly() -> None:
    worker = EngineWorker()
    seen: list[str] = []
    started = threading.Event()
    task = asyncio.ensure_future(worker.submit("doc", _spin(started, seen, "job")))
    await asyncio.get_running_loop().run_in_executor(None, started.wait)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await worker.call(lambda: "worker free") == "worker free"
    assert seen == ["job:cancelled"]
    worker.shutdown()


async def test_other_keys_are_not_cancelled() -> None:
    worker = EngineWorker()
    results = await asyncio.gather(worker.submit("a", lambda t: 1), worker.submit("b", lambda t: 2))
    assert results == [1, 2]
    worker.shutdown()
