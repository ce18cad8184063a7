"""The one runner (bench/runner.py) with a fake system, fim-lsp's description against the stand-in
server, the peer's token accounting, and the record.json layout built from typed results."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import record
from bench.editor import Position
from bench.peer import InfillAnswer, InfillSettings, LlamaServer
from bench.quality import QualityRecord
from bench.realcode import CodeHole
from bench.record import QualityScores
from bench.replay import Reply, RequestRecord
from bench.report import markdown
from bench.runner import (
    Ending,
    Replayed,
    SystemResult,
    TokenTotals,
    TypingResult,
    Workload,
    run_system,
)
from bench.systems import FimLsp, LlamaServerInfill
from bench.tasks import InfillTask
from bench.traces import Keystroke, Trace

FAKE_SERVER = Path(__file__).with_name("fake_lsp_server.py")


def _trace() -> Trace:
    keys = [Keystroke(0.0, "a"), Keystroke(0.05, "b"), Keystroke(0.4, "c")]
    return Trace("m.py:f", "", "", "def f():\n    \n", 13, "abc", keys, end_t=0.6)


def _task() -> InfillTask:
    return InfillTask("SingleLineInfilling/HumanEval/0/L0", "single-line", "def f():\n", "    return 2\n",
                      "    x = 1\n", "def check(f):\n    assert f() == 2\n", "f")  # fmt: skip


def _hole() -> CodeHole:
    src = "def g(x):\n    y = x + 1\n    return y\n"
    start = src.index("y =")
    return CodeHole("python:m/m.py:2:line", "line", "python", "m.py", "0" * 64, src, start, src.index("\n    return"))


class FakeCompleter:
    """Answers at once with "pass" at the cursor; records what it was asked."""

    def __init__(self, events: list[str], fail: bool = False) -> None:
        self.events = events
        self.fail = fail
        self.uris: list[str] = []
        self.calls: list[str] = []  # rest and complete, in order

    def open(self, uri: str, text: str, language: str = "python") -> None:
        self.uris.append(uri)

    def change(self, uri: str, version: int, start: Position, text: str) -> None:
        pass

    def close(self, uri: str) -> None:
        pass

    def rest(self, uri: str, text: str, offset: int) -> None:
        self.calls.append(f"rest at {offset}")

    async def complete(self, uri: str, text: str, offset: int, automatic: bool) -> Reply:
        self.calls.append("complete")
        if self.fail:
            raise RuntimeError("no answer")
        return Reply("pass", {"n": 1}, text[:offset] + "pass" + text[offset:])


class FakeClient:
    def __init__(self, events: list[str], name: str, completer: FakeCompleter) -> None:
        self.events = events
        self.name = name
        self.completer = completer

    async def replay_starts(self) -> None:
        self.events.append(f"{self.name} starts")

    async def replay_ended(self) -> int:
        self.events.append(f"{self.name} ended")
        return 5  # tokens this replay cost

    async def aclose(self) -> None:
        self.events.append(f"{self.name} closed")


class FakeSystem:
    """A system that answers at once; each replay costs 5 tokens."""

    key = "fake"
    label = "fake-server"
    quality_states: tuple[str, ...] = ("column0", "next-line")

    def __init__(self, fail: bool = False) -> None:
        self.events: list[str] = []
        self.completer = FakeCompleter(self.events, fail)
        self.spawned_at = 0.0

    def meta(self) -> dict[str, Any]:
        return {"fake_argv": ["fake"]}

    async def start(self) -> float:
        self.events.append("start")
        self.spawned_at = asyncio.get_running_loop().time()
        return 0.5

    async def stop(self) -> None:
        self.events.append("stop")

    async def answered_from_model(self) -> bool:
        return False

    def client(self) -> FakeClient:
        self.events.append("client")
        return FakeClient(self.events, "client", self.completer)

    def typing_client(self, behaviour: str) -> FakeClient:
        return FakeClient(self.events, behaviour, self.completer)

    def typing_tokens(self, behaviour: str, usage: list[int], n_requests: int) -> tuple[TokenTotals, list[str]]:
        return TokenTotals(sum(usage), 0, None, None), [f"{behaviour}: {n_requests} requests"]

    async def ending(self) -> Ending:
        self.events.append("ending")
        return Ending(123, notes=("the end",))


def test_the_runner_asks_every_part_in_order_and_stops_the_system() -> None:
    sut = FakeSystem()
    work = Workload([_trace()], {"single-line": [_task()]}, [_hole()])
    logged: list[str] = []
    res = asyncio.run(run_system(sut, work, logged.append))

    assert sut.events == [
        "start", "client", "client closed",  # the cold start
        "every-change starts", "every-change ended", "every-change closed",
        "debounce starts", "debounce ended", "debounce closed",
        "client", "client closed",  # the quality tasks
        "client", "client closed",  # the holes
        "ending", "stop",
    ]  # fmt: skip
    assert res.key == "fake" and res.meta == {"fake_argv": ["fake"]} and res.ready_s == 0.5
    assert list(res.typing) == ["every-change", "debounce"]
    every = res.typing["every-change"]
    assert [r.trace for r in every.replays] == ["m.py:f"] and every.tokens.evaluated == 5
    assert every.replays[0].records and len(every.replays[0].key_times) == 4
    # Quality in the system's own states only; one row per hole and state.
    assert [r.state for r in res.quality] == ["column0", "next-line"]
    assert res.realcode is not None and len(res.realcode) == 1
    n_every = len(every.replays[0].records)
    assert res.notes[0] == f"every-change: {n_every} requests" and res.notes[-1] == "the end"
    # The same URIs as before the runner: fim-lsp's server sees them.
    assert "file:///bench/typing/fake-every-change/m.py_f" in sut.completer.uris
    assert "file:///bench/fake-single-line/column0/SingleLineInfilling_HumanEval_0_L0.py" in sut.completer.uris
    assert logged[0] == "fake-server ready in 0.5s"
    assert "fake-server quality single-line: 1 tasks" in logged and "fake-server single-line: 2/2" in logged


def test_a_look_reports_the_cursor_before_the_warm_up_request_and_none_without_it() -> None:
    for look, rests in ((0.0, 0), (0.4, 1)):
        sut = FakeSystem()
        asyncio.run(run_system(sut, Workload([_trace()], {}, typing=True, quality=False, look_s=look), lambda _: None))
        calls = sut.completer.calls
        assert sum(c.startswith("rest") for c in calls) == 2 * rests, (look, calls)  # one per behaviour
        if rests:  # after the cold-start request: at the trace's cursor, then the warm-up request
            assert calls[1:3] == ["rest at 13", "complete"], calls


def test_a_look_reports_the_cursor_at_each_real_code_hole_before_its_request() -> None:
    hole = _hole()
    for look, rests in ((0.0, []), (0.4, [f"rest at {hole.view().offset}"])):
        sut = FakeSystem()
        asyncio.run(run_system(sut, Workload([], {}, [hole], typing=False, quality=False, look_s=look), lambda _: None))
        assert sut.completer.calls[1:] == [*rests, "complete"], (look, sut.completer.calls)


def test_parts_switched_off_are_not_asked() -> None:
    sut = FakeSystem()
    res = asyncio.run(run_system(sut, Workload([], {"single-line": [_task()]}, typing=False, quality=False),
                                 lambda _: None))  # fmt: skip
    assert sut.events == ["start", "client", "client closed", "ending", "stop"]
    assert res.typing == {} and res.quality == [] and res.realcode is None and res.notes == ["the end"]


def test_the_real_code_set_alone_starts_cold_at_its_first_hole() -> None:
    sut = FakeSystem()
    res = asyncio.run(run_system(sut, Workload([], {}, [_hole()], typing=False, quality=False), lambda _: None))
    assert sut.events == ["start", "client", "client closed", "client", "client closed", "ending", "stop"]
    assert res.realcode is not None and len(res.realcode) == 1


def test_the_system_is_stopped_when_a_part_fails() -> None:
    sut = FakeSystem(fail=True)
    with pytest.raises(RuntimeError, match="no answer"):
        asyncio.run(run_system(sut, Workload([_trace()], {}), lambda _: None))
    assert sut.events[-1] == "stop"


def test_fim_lsp_against_the_stand_in_server(tmp_path: Path) -> None:
    """Its typing tokens come from fimLsp/stats; the stand-in's counters never move, which the
    run notes; its last readings keep the counters (stats_end)."""
    sut = FimLsp.launch(f"{sys.executable} {FAKE_SERVER}", {"nThreads": 2}, tmp_path, ("column0",))
    res = asyncio.run(run_system(sut, Workload([_trace()], {"single-line": [_task()]}), lambda _: None))
    assert sut.server.proc is not None and sut.server.proc.returncode is not None  # stopped
    assert res.ending.keeps_stats and res.ending.stats and res.ending.stats["completed"] >= 1
    tokens = res.typing["debounce"].tokens
    # nGenerated is not among its counters: None, not 0.
    assert (tokens.evaluated, tokens.reused, tokens.generated) == (0, 0, None) and tokens.counted is None
    assert any(n.startswith("fim-lsp every-change: fimLsp/stats did not move over") for n in res.notes)
    [q] = res.quality
    assert q.middle == "pass\n" and q.info["model_runs"] == 1
    assert record.startup(res)["stats_end"] == res.ending.stats


def test_fim_lsp_tokens_are_the_growth_of_its_counters() -> None:
    sut = FimLsp.launch("fim-lsp", {}, Path("/tmp"), ())
    a = {"nPrompt": 100, "nReused": 90, "nGenerated": 5, "tGenS": 0.5}
    b = {"nPrompt": 160, "nReused": 140, "nGenerated": 9, "tGenS": 0.7}
    tokens, notes = sut.typing_tokens("debounce", [(a, b), (a, a)], 4)
    assert (tokens.evaluated, tokens.reused, tokens.generated) == (10, 50, 4) and notes == []
    missing, _ = sut.typing_tokens("debounce", [(a, b), (None, b)], 4)
    assert missing == TokenTotals(None, None, None, None)


def test_the_peer_counts_tokens_of_answers_that_ran_to_the_end(tmp_path: Path) -> None:
    server = LlamaServer(tmp_path / "llama-server", tmp_path / "m.gguf", threads=2, ctx_size=64,
                         log_path=tmp_path / "log")  # fmt: skip
    peer = LlamaServerInfill(server, InfillSettings(greedy=True), ("column0",))
    timed = InfillAnswer("a", False, {"prompt_n": 8, "cache_n": 30, "predicted_n": 4, "predicted_ms": 200.0})
    tokens, notes = peer.typing_tokens("every-change", [[timed], [timed, InfillAnswer(None, True)]], 9)
    assert tokens == TokenTotals(16, 60, 8, 0.4, "requests that ran to the end (aborted ones report nothing)")
    assert notes == []
    # Without cache_n in the timings, llama-server's tokens_cached counts as reused.
    old = InfillAnswer("a", False, {"prompt_n": 8, "predicted_n": 4}, tokens_cached=25)
    assert peer.typing_tokens("debounce", [[old]], 1)[0].reused == 25
    assert peer.meta()["peer_sampling"] == "greedy (top_k 1)" and peer.meta()["peer_argv"] == server.argv


def _result(key: str, *, keeps_stats: bool, counted: str | None) -> SystemResult:
    req = RequestRecord(0, 0.0, 0.0, 0.2, "shown", "x", True, {"timings": {"prompt_n": 8, "predicted_n": 2}})
    replayed = Replayed("m.py:f", [req], [0.0, 1.0])
    typing = {b: TypingResult([replayed], TokenTotals(8, 24, 2, 0.1, counted)) for b in ("every-change", "debounce")}
    q = QualityRecord("SingleLineInfilling/HumanEval/0/L0", "single-line", None, "prog", 0.1, status="failed")
    return SystemResult(key, {f"{key}_argv": ["x"]} if key == "peer" else {}, 1.0, 2.0,
                        Ending(2**20, keeps_stats, {"completed": 3} if keeps_stats else None),
                        typing, [q], None, [f"{key} note"])  # fmt: skip


def test_the_record_keeps_the_layout_report_reads() -> None:
    ours = _result("ours", keeps_stats=True, counted=None)
    peer = _result("peer", keeps_stats=False, counted="requests that ran to the end")
    task = _task()
    scores = QualityScores({"ours": ours.quality, "peer": peer.quality}, {task.task_id: task}, 1, 2)
    rec = record.assemble(meta={"started": "T", "quick": True, "machine": "m", "model": "x.gguf",
                                "threads": 2, "ctx": 4096, "command": "python -m bench --quick"},
                          end_meta={"wall_s": 60.0}, floor={}, systems=[ours, peer], fmodel=None,
                          quality=scores, traces=[_trace()], naive_realcode=[], holes=[_hole()])  # fmt: skip
    assert list(rec) == ["meta", "floor", "quality", "typing", "startup", "traces", "notes", "realcode", "raw",
                         "quality_check", "realcode_holes"]  # fmt: skip
    assert list(rec["meta"])[-2:] == ["peer_argv", "wall_s"]
    assert list(rec["startup"]["ours"]) == ["ready_s", "cold_start_s", "stats_end", "peak_rss_bytes"]
    assert list(rec["startup"]["peer"]) == ["ready_s", "cold_start_s", "peak_rss_bytes"]
    assert list(rec["typing"]) == ["every-change", "debounce"]
    assert list(rec["typing"]["debounce"]) == ["ours", "peer"]
    assert "counted" not in rec["typing"]["debounce"]["ours"]["tokens"]
    assert rec["typing"]["debounce"]["peer"]["tokens"]["reuse_share"] == 0.75
    assert list(rec["raw"]["typing"]) == ["ours/every-change", "ours/debounce", "peer/every-change", "peer/debounce"]
    assert rec["raw"]["typing"]["ours/debounce"][0]["requests"][0]["text"] == "x"
    assert rec["raw"]["quality"]["ours"][0]["program"] is None
    assert rec["notes"] == ["ours note", "peer note", "only 1/2 canonical solutions pass: harness problem"]
    assert rec["quality_check"] == "1/2" and rec["realcode"] == {} and rec["traces"][0]["keystrokes"] == 3
    json.dumps(rec, default=str)
    md = markdown(rec)
    assert "| spawn → first completion (s) | 2.00 | 2.00 | 1.00 |" in md
