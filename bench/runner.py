"""One runner for every system under test, so that fim-lsp and the peer are measured alike.

The runner owns the order: start, cold start, the typing traces in each client behaviour, the
quality tasks, the real-code holes, the last readings, stop. A `SystemUnderTest` says only how
to do each step with its own process and client; what comes back is typed (`SystemResult`), and
`bench.record` turns it into record.json.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from bench import realcode
from bench.quality import Progress, QualityRecord, quality_run
from bench.realcode import CodeHole
from bench.replay import BEHAVIOURS, Completer, RequestRecord, look, replay, summarize
from bench.tasks import InfillTask
from bench.traces import Trace

Log = Callable[[str], None]
Usage = TypeVar("Usage")
Usage_co = TypeVar("Usage_co", covariant=True)


class Client(Protocol):
    """The editor's side of one stretch of the run (the cold start, the quality tasks, the holes)."""

    @property
    def completer(self) -> Completer: ...

    async def aclose(self) -> None: ...


class TypingClient(Client, Protocol[Usage_co]):
    """The client of one replay; it also measures what the replay cost the system."""

    async def replay_starts(self) -> None:
        """Called once the warm-up request is answered, right before the first keystroke."""
        ...

    async def replay_ended(self) -> Usage_co:
        """Called once the replay's requests have wound down; what they cost."""
        ...


@dataclass(frozen=True)
class TokenTotals:
    """Prompt and generation tokens over one behaviour's replays; None where a count is missing."""

    evaluated: float | None
    reused: float | None
    generated: float | None
    gen_s: float | None  # seconds spent generating them
    counted: str | None = None  # which requests the counts cover, where not all


@dataclass(frozen=True)
class Ending:
    """What a system reports just before it stops."""

    peak_rss_bytes: int | None
    keeps_stats: bool = False  # whether it has counters of its own (fim-lsp's fimLsp/stats)
    stats: dict[str, Any] | None = None  # those counters; None when it did not answer
    notes: tuple[str, ...] = ()


class SystemUnderTest(Protocol[Usage]):
    """How to start a system, ask it (one `Client` per stretch of the run), replay typing into it
    and read what that cost (``Usage`` per replay, pooled by `typing_tokens`), and stop it."""

    key: str  # its name in record.json: "ours", "peer"
    label: str  # its name in the log: "fim-lsp", "llama-server"
    quality_states: tuple[str, ...]  # the editor states its quality tasks are asked in

    @property
    def spawned_at(self) -> float: ...

    def meta(self) -> dict[str, Any]:
        """What record.json's meta says about the system (its command line, its sampling)."""
        ...

    async def start(self) -> float:
        """Spawn it and wait until it is ready; seconds from spawn to ready."""
        ...

    async def stop(self) -> None: ...

    async def answered_from_model(self) -> bool:
        """Whether a model run has answered a request: an empty answer then ends the cold start
        (a position may deserve no suggestion)."""
        ...

    def client(self) -> Client:
        """A client for one stretch without typing: the cold start, the quality tasks, the holes."""
        ...

    def typing_client(self, behaviour: str) -> TypingClient[Usage]:
        """A client for one replay, behaving as ``behaviour``'s editor does."""
        ...

    def typing_tokens(
        self, behaviour: str, usage: list[Usage], n_requests: int
    ) -> tuple[TokenTotals, list[str]]:
        """The tokens of one behaviour's replays, and notes on how far to trust them."""
        ...

    async def ending(self) -> Ending: ...


@dataclass(frozen=True)
class Workload:
    """What a system is asked. Parts switched off are empty or False."""

    traces: list[Trace]
    tasks: dict[str, list[InfillTask]]  # per split
    holes: list[CodeHole] = field(default_factory=list)
    typing: bool = True
    quality: bool = True
    # Seconds the user looks at the opened file before the first request, in typing (before the
    # warm-up request) and at each real-code hole (0: asks at once); a client that reports the
    # cursor (fim-lsp's, `Completer.rest`) does so as the look starts.
    look_s: float = 0.0


@dataclass(frozen=True)
class Replayed:
    """One trace typed in one client behaviour: each request's record and the keystroke times."""

    trace: str
    records: list[RequestRecord]
    key_times: list[float]

    @property
    def timeline(self) -> tuple[list[RequestRecord], list[float]]:
        """The pair `replay` returns and `summarize` pools."""
        return self.records, self.key_times


@dataclass(frozen=True)
class TypingResult:
    replays: list[Replayed]  # in trace order
    tokens: TokenTotals


@dataclass(frozen=True)
class SystemResult:
    key: str
    meta: dict[str, Any]
    ready_s: float
    cold_start_s: float
    ending: Ending
    typing: dict[str, TypingResult]  # per behaviour; empty when typing was not asked
    quality: list[QualityRecord]
    realcode: list[dict] | None  # one row per hole and state; None when no holes were asked
    notes: list[str]


async def run_system(sut: SystemUnderTest[Usage], work: Workload, log: Log) -> SystemResult:
    """Every part of ``work`` on one system, one part after another; the system is stopped
    whatever happens."""
    meta = sut.meta()
    try:
        ready = await sut.start()
        log(f"{sut.label} ready in {ready:.1f}s")
        cold = await cold_start(sut, work)
        log(f"{sut.label} first completion {cold:.1f}s after spawn")
        typing, notes = await _typing(sut, work.traces, log, work.look_s) if work.typing else ({}, [])
        quality = await _quality(sut, work.tasks, log) if work.quality else []
        rows = await _holes(sut, work.holes, log, work.look_s) if work.holes else None
        ending = await sut.ending()
    finally:
        await sut.stop()
    return SystemResult(sut.key, meta, ready, cold, ending, typing, quality, rows, [*notes, *ending.notes])


async def cold_start(sut: SystemUnderTest[Any], work: Workload) -> float:
    """Spawn -> the first suggestion, asked at the first trace's cursor (else the first task's,
    else the first real-code hole's); a server still loading may answer with nothing, so ask
    again until a suggestion comes."""
    client = sut.client()
    if work.traces:
        text, off = work.traces[0].initial_text, work.traces[0].cursor
    elif any(work.tasks.values()):
        text, off = next(ts for ts in work.tasks.values() if ts)[0].editor_text()
    else:
        view = work.holes[0].view()
        text, off = view.text, view.offset
    uri = "file:///bench/cold/start.py"
    client.completer.open(uri, text)
    while time.monotonic() - sut.spawned_at < 900:
        reply = await client.completer.complete(uri, text, off, False)
        if reply.text or await sut.answered_from_model():
            break
        await asyncio.sleep(0.25)
    client.completer.close(uri)
    cold = time.monotonic() - sut.spawned_at
    await client.aclose()
    return cold


async def _typing(
    sut: SystemUnderTest[Usage], traces: list[Trace], log: Log, look_s: float = 0.0
) -> tuple[dict[str, TypingResult], list[str]]:
    """Each trace in each behaviour, one replay at a time; then the tokens of each behaviour."""
    replays: dict[str, list[Replayed]] = {b: [] for b in BEHAVIOURS}
    usage: dict[str, list[Usage]] = {b: [] for b in BEHAVIOURS}
    for trace in traces:
        for beh in BEHAVIOURS:
            replayed, used = await replay_one(sut, trace, beh, look_s)
            replays[beh].append(replayed)
            usage[beh].append(used)
            log(f"{sut.label} {beh} {trace.name}: {summarize([replayed.timeline]).as_dict()['outcomes']}")
    results: dict[str, TypingResult] = {}
    notes: list[str] = []
    for beh in BEHAVIOURS:
        n_requests = sum(len(r.records) for r in replays[beh])
        tokens, beh_notes = sut.typing_tokens(beh, usage[beh], n_requests)
        results[beh] = TypingResult(replays[beh], tokens)
        notes += beh_notes
    return results, notes


async def replay_one(
    sut: SystemUnderTest[Usage], trace: Trace, behaviour: str, look_s: float = 0.0
) -> tuple[Replayed, Usage]:
    """A warm-up request on the opened file (the user looked at it first, ``look_s`` seconds
    more with the cursor at the trace's start), then the replay."""
    client = sut.typing_client(behaviour)
    completer = client.completer
    uri = _typing_uri(sut, trace, behaviour)
    completer.open(uri, trace.initial_text)
    await look(completer, uri, trace.initial_text, trace.cursor, look_s)
    await completer.complete(uri, trace.initial_text, trace.cursor, False)
    await client.replay_starts()
    records, key_times = await replay(trace, completer, behaviour, uri=uri)
    await asyncio.sleep(1.0)  # let a cancelled request wind down before reading counters
    used = await client.replay_ended()
    completer.close(uri)
    await client.aclose()
    return Replayed(trace.name, records, key_times), used


def _typing_uri(sut: SystemUnderTest[Any], trace: Trace, behaviour: str) -> str:
    """The trace's own file when the system has a workspace folder holding it (its imports are
    then found there), else a made-up path."""
    root: Path | None = getattr(sut, "root", None)
    source = Path(trace.source_path) if trace.source_path else None
    if root is not None and source is not None and source.is_relative_to(root):
        return source.as_uri()
    return f"file:///bench/typing/{sut.key}-{behaviour}/{trace.name.replace(':', '_')}"


async def _quality(
    sut: SystemUnderTest[Any], tasks: dict[str, list[InfillTask]], log: Log
) -> list[QualityRecord]:
    client = sut.client()
    out: list[QualityRecord] = []
    for split, split_tasks in tasks.items():
        log(f"{sut.label} quality {split}: {len(split_tasks)} tasks")
        out += await quality_run(client.completer, split_tasks, f"{sut.key}-{split}",
                                 progress(log, f"{sut.label} {split}"), sut.quality_states)  # fmt: skip
    await client.aclose()
    return out


async def _holes(sut: SystemUnderTest[Any], holes: list[CodeHole], log: Log, look_s: float = 0.0) -> list[dict]:
    client = sut.client()
    log(f"{sut.label} real-code holes: {len(holes)}")
    rows = await realcode.ask_holes(client.completer, holes, progress(log, f"{sut.label} real-code"), look_s)
    await client.aclose()
    return rows


def progress(log: Log, label: str) -> Progress:
    """A progress callback that logs every 20 questions and the last."""

    def cb(i: int, n: int) -> None:
        if i == n or i % 20 == 0:
            log(f"{label}: {i}/{n}")

    return cb
