"""The bench's LSP client against a stand-in server: sync, completion, cancel, stats, stop."""

import asyncio
import os
import sys
from pathlib import Path

import pytest

from bench.editor import Position
from bench.fimlsp import FimLspServer, run_between
from bench.systems import OursCompleter

FAKE = Path(__file__).with_name("fake_lsp_server.py")


def test_complete_cancel_stats_and_stop(tmp_path):
    async def go():
        server = FimLspServer([sys.executable, str(FAKE)], {"nThreads": 2}, tmp_path / "err.log")
        await server.start()
        pid = server.proc.pid
        try:
            server.open("file:///a.py", "def f():\n    re\n")
            ours = OursCompleter(server)
            reply = await ours.complete(
                "file:///a.py", "def f():\n    re\n", len("def f():\n    re"), True
            )
            # The item replaced the line prefix "    re"; the bench sees what it adds at the cursor.
            assert reply.text == "pass" and reply.info["last"]["nGenerated"] == 2

            server.change("file:///a.py", 2, Position(1, 6), Position(1, 6), "t")
            [sug] = await server.complete("file:///a.py", Position(1, 7))
            assert sug.text == "    retpass"

            server.open("file:///slow.py", "slow\n")
            task = asyncio.create_task(server.complete("file:///slow.py", Position(0, 4)))
            await asyncio.sleep(0.5)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await asyncio.sleep(0.5)
            st = await server.stats()
            assert st["cancelled"] == 1 and st["requests"] == 3
        finally:
            await server.stop()
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)

    asyncio.run(go())


def test_a_run_belongs_to_an_answer_only_when_exactly_one_finished_between_the_reads() -> None:
    last = {"nPrompt": 12, "nReused": 3}
    assert run_between({"completed": 4}, {"completed": 5, "last": last}) == last
    assert run_between({"completed": 5}, {"completed": 5, "last": last}) == {}  # from memory
    assert run_between({"completed": 3}, {"completed": 5, "last": last}) == {}  # another run too
    assert run_between(None, {"completed": 5, "last": last}) == {}  # no stats
    assert run_between({"completed": 4}, {"completed": 5, "last": None}) == {}
