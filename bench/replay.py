"""Replay a typing trace against a completion client, as an editor would, and score it.

Two client behaviours:
- ``every-change`` (VS Code-like): a request after every change; the previous one is cancelled.
- ``debounce`` (Neovim-like): a request once the user has been quiet for 200 ms; a change
  cancels the pending timer and any request in flight.

A suggestion counts as shown when it is non-empty and arrives before the next keystroke.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import asdict, dataclass, field
from typing import Protocol

from bench.editor import Position, offset_to_position
from bench.scoring import first_line_matches, percentile
from bench.traces import Trace

PAUSE_S = 0.3
# How long after the cursor stops fim-lsp's clients report it (their CURSOR_REST_MS / REST_MS).
CURSOR_REST_S = 0.3
BEHAVIOURS = ("every-change", "debounce")


class Answer(Protocol):
    text: str | None


@dataclass
class Reply:
    text: str | None  # the text the suggestion adds at the cursor; None for nothing
    info: dict = field(default_factory=dict)
    buffer: str | None = None  # the whole buffer once the suggestion is accepted


class Completer(Protocol):
    """One editor integration: document sync plus a cancellable completion request."""

    def open(self, uri: str, text: str, language: str = "python") -> None: ...

    def change(self, uri: str, version: int, start: Position, text: str) -> None: ...

    def close(self, uri: str) -> None: ...

    def rest(self, uri: str, text: str, offset: int) -> None:
        """The cursor rests at ``offset`` (fim-lsp's clients report it; others do nothing)."""

    async def complete(self, uri: str, text: str, offset: int, automatic: bool) -> Reply: ...


async def look(completer: Completer, uri: str, text: str, offset: int, look_s: float) -> None:
    """The user looks at the just-opened ``uri`` for ``look_s`` seconds, the cursor at ``offset``;
    a client that reports it does so `CURSOR_REST_S` into the look. Nothing when ``look_s`` is 0."""
    if look_s <= 0:
        return
    await asyncio.sleep(min(look_s, CURSOR_REST_S))
    completer.rest(uri, text, offset)
    await asyncio.sleep(max(0.0, look_s - CURSOR_REST_S))


@dataclass
class RequestRecord:
    k: int  # index of the keystroke whose state was completed
    t_key: float  # when that keystroke was sent (seconds since the replay began)
    t_sent: float
    t_done: float | None = None
    outcome: str = "pending"  # shown | empty | stale | cancelled | error
    text: str | None = None
    first_line_ok: bool | None = None
    info: dict = field(default_factory=dict)

    @property
    def latency(self) -> float | None:
        return None if self.t_done is None else self.t_done - self.t_key


async def replay(
    trace: Trace,
    completer: Completer,
    behaviour: str,
    *,
    uri: str,
    debounce_s: float = 0.2,
    on_shown=None,
) -> tuple[list[RequestRecord], list[float]]:
    """Type ``trace`` into ``completer``; returns the request records and the keystroke times."""
    if behaviour not in BEHAVIOURS:
        raise ValueError(behaviour)
    loop = asyncio.get_running_loop()
    doc = trace.initial_text
    cursor = trace.cursor
    records: list[RequestRecord] = []
    key_times: list[float] = []
    pending: asyncio.Task | None = None
    timer: asyncio.Task | None = None
    version = 1
    t0 = loop.time()

    async def request(k: int, t_key: float, snapshot: str, offset: int) -> None:
        rec = RequestRecord(k, t_key, loop.time() - t0)
        records.append(rec)
        try:
            reply = await completer.complete(uri, snapshot, offset, True)
        except asyncio.CancelledError:
            rec.outcome = "cancelled"
            raise
        except Exception as exc:  # noqa: BLE001 - an error is an outcome to count
            rec.t_done = loop.time() - t0
            rec.outcome = "error"
            rec.info["error"] = repr(exc)[:300]
            return
        rec.t_done = loop.time() - t0
        rec.info.update(reply.info)
        rec.text = reply.text
        superseded = len(key_times) > k + 1
        if not reply.text or not reply.text.strip():
            rec.outcome = "empty"
        elif superseded:
            rec.outcome = "stale"
        else:
            rec.outcome = "shown"
            rec.first_line_ok = first_line_matches(reply.text, trace.target_text[offset:])
            if on_shown is not None:
                on_shown(rec)

    async def debounced(k: int, t_key: float, snapshot: str, offset: int) -> None:
        nonlocal pending
        await asyncio.sleep(debounce_s)
        pending = asyncio.create_task(request(k, t_key, snapshot, offset))

    async def cancel(task: asyncio.Task | None) -> None:
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    for k, ks in enumerate(trace.keystrokes):
        delay = t0 + ks.t - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        start = offset_to_position(doc, cursor)
        doc = doc[:cursor] + ks.text + doc[cursor:]
        cursor += len(ks.text)
        version += 1
        t_key = loop.time() - t0
        key_times.append(t_key)
        completer.change(uri, version, start, ks.text)
        await cancel(timer)
        await cancel(pending)
        if behaviour == "every-change":
            pending = asyncio.create_task(request(k, t_key, doc, cursor))
        else:
            timer = asyncio.create_task(debounced(k, t_key, doc, cursor))
    # The user stops and looks until end_t.
    delay = t0 + trace.end_t - loop.time()
    if delay > 0:
        await asyncio.sleep(delay)
    key_times.append(loop.time() - t0)  # the end of the look closes the last pause
    await cancel(timer)
    await cancel(pending)
    for rec in records:
        if rec.outcome == "shown" and rec.t_done is not None and rec.t_done > key_times[rec.k + 1]:
            rec.outcome = "stale"  # arrived after the look ended
    return records, key_times


@dataclass
class ReplaySummary:
    keystrokes: int
    requests: int
    outcomes: dict
    latency_shown_s: dict  # p50/p95/max/n over suggestions that were shown
    latency_answered_s: dict  # ... over every request that came back with a suggestion
    pauses: int
    pauses_with_suggestion: int
    first_line_match: int  # shown suggestions whose first line the user then typed
    shown: int

    def as_dict(self) -> dict:
        return asdict(self)


def _dist(xs: list[float]) -> dict:
    return {
        "n": len(xs),
        "p50": percentile(xs, 50),
        "p95": percentile(xs, 95),
        "max": max(xs) if xs else None,
    }


def summarize(replays: list[tuple[list[RequestRecord], list[float]]]) -> ReplaySummary:
    """Pool the replays of one system and behaviour (each: its records and keystroke times)."""
    outcomes: dict[str, int] = {}
    shown: list[RequestRecord] = []
    answered: list[RequestRecord] = []
    n_keys = n_requests = n_pauses = n_covered = 0
    for records, key_times in replays:
        for r in records:
            outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
        these_shown = [r for r in records if r.outcome == "shown"]
        shown += these_shown
        answered += [r for r in records if r.outcome in ("shown", "stale")]
        gaps = [b - a for a, b in zip(key_times, key_times[1:], strict=False)]
        pause_keys = {k for k, g in enumerate(gaps) if g >= PAUSE_S}
        n_pauses += len(pause_keys)
        n_covered += len({r.k for r in these_shown if r.k in pause_keys})
        n_keys += len(key_times) - 1
        n_requests += len(records)
    return ReplaySummary(
        keystrokes=n_keys,
        requests=n_requests,
        outcomes=outcomes,
        latency_shown_s=_dist([r.latency for r in shown if r.latency is not None]),
        latency_answered_s=_dist([r.latency for r in answered if r.latency is not None]),
        pauses=n_pauses,
        pauses_with_suggestion=n_covered,
        first_line_match=sum(1 for r in shown if r.first_line_ok),
        shown=len(shown),
    )
