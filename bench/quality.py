"""HumanEval-infilling quality: ask each task through a `Completer`, run the programs, score them."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from bench.replay import Completer, Reply, look
from bench.sandbox import run_program
from bench.scoring import edit_similarity, exact_match
from bench.tasks import EditorView, InfillTask, states_for

Progress = Callable[[int, int], None]


@dataclass
class QualityRecord:
    task_id: str
    split: str
    middle: str | None  # the hole's content after accepting; None when nothing was offered
    program: str
    latency_s: float | None
    info: dict = field(default_factory=dict)
    status: str = ""  # filled by the sandbox: passed | failed | timeout
    state: str = "column0"  # the editor state it was asked in (bench.tasks.STATES)
    system: str = ""  # which floor, where one run yields several

    @property
    def key(self) -> str:
        """Where it is reported: the split, with the editor state unless it is the split's first
        (column 0 for whole-line holes, as earlier runs measured them)."""
        return self.split if self.state == states_for(self.split)[0] else f"{self.split} / {self.state}"


@dataclass(frozen=True)
class Ask:
    """One question to a completer: a buffer opened at ``uri`` and the cursor in it."""

    uri: str
    view: EditorView
    language: str = "python"


@dataclass(frozen=True)
class Answer:
    ask: Ask
    reply: Reply
    latency_s: float
    error: str | None = None

    @property
    def buffer(self) -> str:
        """The buffer once the first item is accepted (unchanged when nothing was offered)."""
        r = self.reply
        return r.buffer if r.text and r.buffer is not None else self.ask.view.text


async def ask_each(completer: Completer, asks: list[Ask], progress: Progress | None = None,
                   look_s: float = 0.0) -> list[Answer]:  # fmt: skip
    """The one loop of the quality sets: for each question, open the buffer, ask once at the
    cursor (an automatic request, as after a pause), time it, close the buffer. Asked one after
    another, as a user moving between them would (neighbours share most of their text). With
    ``look_s``, the user looks that long at the cursor before the request (`bench.replay.look`)."""
    out = []
    for i, ask in enumerate(asks):
        completer.open(ask.uri, ask.view.text, ask.language)
        await look(completer, ask.uri, ask.view.text, ask.view.offset, look_s)
        t0 = time.monotonic()
        try:
            reply, err = await completer.complete(ask.uri, ask.view.text, ask.view.offset, True), None
        except Exception as exc:  # noqa: BLE001 - counted as no suggestion
            reply, err = Reply(None), repr(exc)[:300]
        out.append(Answer(ask, reply, time.monotonic() - t0, err))
        completer.close(ask.uri)
        await asyncio.sleep(0)
        if progress:
            progress(i + 1, len(asks))
    return out


async def quality_run(
    completer: Completer, tasks: list[InfillTask], label: str, progress: Progress | None = None,
    states: tuple[str, ...] | None = None,
) -> list[QualityRecord]:
    """Each task in each of its editor states (`ask_each`); the first item accepted."""
    pairs = [(task, state) for task in tasks for state in states_for(task.split)
             if states is None or state in states]  # fmt: skip
    asks = [Ask(f"file:///bench/{label}/{state}/{task.task_id.replace('/', '_')}.py", task.view(state))
            for task, state in pairs]  # fmt: skip
    out = []
    for (task, state), ans in zip(pairs, await ask_each(completer, asks, progress), strict=True):
        info = dict(ans.reply.info)
        if ans.error:
            info["error"] = ans.error
        middle = task.middle_from_buffer(ans.buffer) if ans.reply.text else None
        out.append(QualityRecord(task.task_id, task.split, middle, task.program_from_buffer(ans.buffer),
                                 ans.latency_s, info, state=state))  # fmt: skip
    return out


def empty_floor(tasks: list[InfillTask], states: tuple[str, ...]) -> list[QualityRecord]:
    """The empty completion in every asked editor state: what a task passes with nothing added."""
    return [
        QualityRecord(t.task_id, t.split, None, t.program_from_buffer(t.view(state).text), None, state=state)
        for t in tasks for state in states_for(t.split) if state in states
    ]  # fmt: skip


def canonical(tasks: list[InfillTask]) -> list[QualityRecord]:
    """The canonical solutions: they must all pass, or the harness is wrong."""
    return [QualityRecord(t.task_id, t.split, t.canonical, t.program(t.canonical), None) for t in tasks]


def execute_all(quality: dict[str, list[QualityRecord]], log: Callable[[str], None]) -> None:
    """Run each distinct program once in the sandbox and set the status of every record of it."""
    todo: dict[str, list[QualityRecord]] = {}
    for recs in quality.values():
        for r in recs:
            todo.setdefault(r.program, []).append(r)
    log(f"executing {len(todo)} distinct programs in the sandbox")
    with ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1))) as pool:
        for prog, res in zip(
            todo, pool.map(lambda p: run_program(p, timeout_s=10), todo), strict=False
        ):
            for r in todo[prog]:
                r.status = res.status


def quality_summary(recs: list[QualityRecord], tasks: dict[str, InfillTask]) -> dict:
    """Figures per report key: the split (its first editor state) or "split / state"."""
    out: dict = {}
    for key in dict.fromkeys(r.key for r in recs):
        rs = [r for r in recs if r.key == key]
        passed = sum(r.status == "passed" for r in rs)
        em = [exact_match(r.middle or "", tasks[r.task_id].canonical) for r in rs]
        es = [edit_similarity(r.middle or "", tasks[r.task_id].canonical) for r in rs]
        lats = [r.latency_s for r in rs if r.latency_s is not None]
        out[key] = {
            "n": len(rs),
            "passed": passed,
            "pass@1": passed / len(rs),
            "exact_match": sum(em) / len(rs),
            "edit_similarity": sum(es) / len(rs),
            "offered": sum(r.middle is not None for r in rs),
            "mean_latency_s": sum(lats) / len(lats) if lats else None,
        }
    return out
