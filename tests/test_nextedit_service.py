"""NextEditService with the real worker thread and a scripted engine: what reaches the engine,
what comes back as edits, and that it gives way to completions."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

from lsp_server.config import Settings
from lsp_server.documents import Snapshot
from lsp_server.engine.base import (
    CancelToken,
    Capabilities,
    EngineInfo,
    GenerationResult,
    RewriteJob,
    ScoreJob,
    ScoreResult,
)
from lsp_server.engine.worker import EngineWorker
from lsp_server.nextedit.history import EditHistory
from lsp_server.nextedit.predict import Options, predict
from lsp_server.nextedit.service import NextEditQuery, NextEditService

URI = "file:///a.py"
OLD = "def f(n):\n    a = n + 1\n    return a * n\n"
NEW = OLD.replace("f(n)", "f(count)")
# a use changed, not the definition: whether the other uses follow is the model's call
USE_OLD = "def f(n):\n    a = g(n)\n    return a * n\n"
USE_NEW = USE_OLD.replace("g(n)", "g(count)")


@dataclass
class ScriptedEngine:
    """Answers every rewrite with the original region, with ``n`` renamed, and scores a line
    likelier the more ``count`` it holds (what a good model does)."""

    jobs: list[RewriteJob | ScoreJob] = field(default_factory=list)
    hold: threading.Event | None = None

    def count_tokens(self, text: str) -> int:
        return len(text.split()) + 1

    def rewrite(self, job: RewriteJob, cancel: CancelToken) -> GenerationResult:
        self.jobs.append(job)
        if self.hold is not None:
            while not cancel.cancelled:
                self.hold.wait(0.01)
            return GenerationResult("", "cancelled")
        return GenerationResult(job.draft.replace(" n ", " count ").replace("* n", "* count") + "```\n", "stop")

    def score(self, job: ScoreJob, cancel: CancelToken) -> ScoreResult:
        self.jobs.append(job)
        if self.hold is not None:
            while not cancel.cancelled:
                self.hold.wait(0.01)
            return ScoreResult(())
        return ScoreResult(tuple(float(alt.count("count")) - 5 for alt in job.alternatives))


@dataclass
class Host:
    engine: ScriptedEngine
    settings: Settings = field(default_factory=lambda: Settings.of(next_edit=True))
    info: EngineInfo = field(default_factory=lambda: EngineInfo(
        "llama_cpp", "m", "qwen", Capabilities(), {"name": "Qwen2.5 Coder Instruct"},
        markers=frozenset({"<|im_start|>", "<|im_end|>"})))


def query(text: str = NEW) -> NextEditQuery:
    return NextEditQuery(Snapshot(URI, text, 2, "python"), text.index("count") + 5, lambda u: "a.py")


def test_an_edit_is_followed_and_nothing_runs_without_one() -> None:
    engine = ScriptedEngine()
    service = NextEditService(Host(engine), EngineWorker())  # type: ignore[arg-type]

    async def run() -> None:
        assert (await service.suggest(query())).edits == []  # no history yet: no model run
        assert engine.jobs == []
        service.changed(Snapshot(URI, OLD, 1, "python"), Snapshot(URI, NEW, 2, "python"), whole=False)
        found = await service.suggest(query())
        assert [(NEW[e.start : e.end], e.text) for e in found.edits] == [("n", "count"), ("n", "count")]
        assert engine.jobs == []  # renamed where it is defined: its uses follow, no model run

    asyncio.run(run())


def test_a_changed_use_is_carried_where_the_model_chooses_it() -> None:
    engine = ScriptedEngine()
    service = NextEditService(Host(engine), EngineWorker())  # type: ignore[arg-type]

    async def run() -> None:
        service.changed(Snapshot(URI, USE_OLD, 1, "python"), Snapshot(URI, USE_NEW, 2, "python"), whole=False)
        found = await service.suggest(query(USE_NEW))
        assert [(USE_NEW[e.start : e.end], e.text) for e in found.edits] == [("n", "count")]
        (job,) = engine.jobs  # the model read the edited code up to the line it chose for
        assert isinstance(job, ScoreJob) and "".join(s.text for s in job.segments).endswith("    a = g(count)\n")
        assert job.alternatives == ("    return a * n\n", "    return a * count\n")

    asyncio.run(run())


def test_a_completion_cancels_a_running_prediction_and_off_means_off() -> None:
    engine = ScriptedEngine(hold=threading.Event())
    host = Host(engine)
    service = NextEditService(host, EngineWorker())  # type: ignore[arg-type]
    service.changed(Snapshot(URI, USE_OLD, 1, "python"), Snapshot(URI, USE_NEW, 2, "python"), whole=False)

    async def run() -> None:
        task = asyncio.ensure_future(service.suggest(query(USE_NEW)))
        while not engine.jobs:
            await asyncio.sleep(0.01)
        service.yield_to_completion()
        assert (await asyncio.wait_for(task, 5)).edits == []
        host.settings = Settings.of(next_edit=False)
        engine.jobs.clear()
        assert (await service.suggest(query(USE_NEW))).edits == [] and engine.jobs == []

    asyncio.run(run())


def test_a_carry_past_its_budget_shows_nothing() -> None:
    engine = ScriptedEngine()
    history = EditHistory()
    history.record(Snapshot(URI, USE_OLD, 1, "python"), Snapshot(URI, USE_NEW, 2, "python"))
    doc, info = Snapshot(URI, USE_NEW, 2, "python"), Host(engine).info
    args = (engine, info, doc, USE_NEW.index("count") + 5, history.recent(URI), lambda u: "a.py", CancelToken())
    assert predict(*args, Options(budget_s=None)).edits  # type: ignore[arg-type]
    late = predict(*args, Options(budget_s=-1.0))  # type: ignore[arg-type]
    assert late.edits == [] and late.dropped == {"budget": 1}
