"""The completion feature with a scripted engine: caching, prefetch, staleness (no model)."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field

import pytest

from lsp_server.completion import CompletionQuery, CompletionService
from lsp_server.config import KEYS, EngineSettings, Settings
from lsp_server.documents import Snapshot
from lsp_server.engine.base import (
    CancelToken,
    Capabilities,
    EngineInfo,
    GenerationJob,
    GenerationResult,
)
from lsp_server.engine.host import EngineHost
from lsp_server.postprocess import Suggestion


@dataclass
class ScriptedEngine:
    """Answers each prompt from a table keyed by the text before the cursor."""

    answers: dict[str, str]
    calls: list[str] = field(default_factory=list)

    def load(self, progress):  # type: ignore[no-untyped-def]
        return EngineInfo("scripted", "none", "qwen", Capabilities())

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def generate(self, job: GenerationJob, cancel: CancelToken) -> GenerationResult:
        key = job.prompt.prefix + job.prompt.middle
        self.calls.append(key)
        return GenerationResult(self.answers.get(key, ""), "eos", 10, 0, 3)

    def close(self) -> None:
        pass


async def _service(engine: ScriptedEngine, **settings: object) -> CompletionService:
    """A loaded service around ``engine``."""
    service = CompletionService(EngineHost(Settings.of(**settings), lambda _s: engine))
    await service.host.load(lambda _m, _p: None)
    return service


async def _stop(service: CompletionService) -> None:
    """What the server does at shutdown: the feature's work, then the shared engine."""
    service.shutdown()
    await service.host.shutdown()


def _query(text: str, offset: int) -> CompletionQuery:
    return CompletionQuery(Snapshot("file:///a.py", text, 1, "python"), offset)


async def _texts(service: CompletionService, query: CompletionQuery) -> list[str]:
    """The suggestions' texts (all of them insert at the cursor in these tests)."""
    found = await service.complete(query)
    assert all(s.replace == 0 for s in found)
    return [s.text for s in found]


async def test_prefetch_answers_the_accepted_state_without_a_new_generation() -> None:
    doc = "def f(x):\n    \n"
    engine = ScriptedEngine({"def f(x):\n": "    y = x + 1", "def f(x):\n    y = x + 1": "\n    return y"})
    service = await _service(engine)
    assert await _texts(service, _query(doc, 14)) == ["y = x + 1"]
    accepted = "def f(x):\n    y = x + 1\n"
    for _ in range(50):  # let the prefetch run on the worker
        if service.stats.prefetched:
            break
        await asyncio.sleep(0.01)
    calls = len(engine.calls)
    assert await _texts(service, _query(accepted, 23)) == ["\n    return y"]
    assert len(engine.calls) == calls and service.stats.cacheHits == 1
    await _stop(service)


async def test_a_prefetched_suggestion_gets_its_own_successor_prefetched() -> None:
    a, b, c = "def f(x):\n", "def f(x):\n    y = x + 1", "def f(x):\n    y = x + 1\n    z = y * 2"
    engine = ScriptedEngine({a: "    y = x + 1", b: "\n    z = y * 2", c: "\n    return z"})
    service = await _service(engine)

    async def settled(n: int) -> None:
        for _ in range(100):
            if service.stats.prefetched >= n:
                return
            await asyncio.sleep(0.01)

    assert await _texts(service, _query(a + "    \n", 14)) == ["y = x + 1"]
    await settled(1)
    assert await _texts(service, _query(b + "\n", len(b))) == ["\n    z = y * 2"]  # from the prefetch
    await settled(2)
    assert await _texts(service, _query(c + "\n", len(c))) == ["\n    return z"]  # and its successor
    assert engine.calls == [a, b, c] and service.stats.cacheHits == 2
    await _stop(service)


async def test_typed_through_needs_no_generation() -> None:
    doc = "def f(x):\n    \n"
    engine = ScriptedEngine({"def f(x):\n": "    return x * 2"})
    service = await _service(engine, prefetch=False)
    assert await _texts(service, _query(doc, 14)) == ["return x * 2"]
    typed = "def f(x):\n    ret\n"
    assert await _texts(service, _query(typed, 17)) == ["urn x * 2"]
    assert len(engine.calls) == 1
    await _stop(service)


async def test_a_request_adopts_the_speculation_started_by_the_keystroke() -> None:
    engine = ScriptedEngine({"def f(x):\n": "    y = x + 1", "def f(x):\n    z": " = x * 2"})
    service = await _service(engine, prefetch=False)
    assert await _texts(service, _query("def f(x):\n    \n", 14)) == ["y = x + 1"]
    typed = "def f(x):\n    z\n"  # "z" is not the suggestion's start: no typed-through answer
    service.speculate(_query(typed, 15))
    assert await _texts(service, _query(typed, 15)) == [" = x * 2"]
    assert engine.calls == ["def f(x):\n", "def f(x):\n    z"]  # one run for the typed state
    assert service.stats.speculated == 1 and service.stats.completed == 2
    assert service.stats.last.source == "speculate" and service.stats.last.nPrompt == 10
    await _stop(service)


async def test_speculation_skips_typed_through_states_remote_engines_and_the_off_switch() -> None:
    doc = "def f(x):\n    \n"
    engine = ScriptedEngine({"def f(x):\n": "    return x * 2"})
    service = await _service(engine, prefetch=False)
    assert await _texts(service, _query(doc, 14)) == ["return x * 2"]
    service.speculate(_query("def f(x):\n    ret\n", 17))  # typed through: the cache answers
    assert not service.host.reconfigure(Settings.of(speculate=False))
    service.speculate(_query("def f(x):\n    z\n", 15))
    await asyncio.sleep(0.05)
    assert len(engine.calls) == 1 and service.stats.speculated == 0

    @dataclass
    class RemoteEngine(ScriptedEngine):
        def load(self, progress):  # type: ignore[no-untyped-def]
            return EngineInfo("remote", "none", "qwen", Capabilities(local=False))

    remote = RemoteEngine({})
    service_remote = await _service(remote)
    service_remote.speculate(_query("def f(x):\n    z\n", 15))
    await asyncio.sleep(0.05)
    assert remote.calls == [] and service_remote.stats.speculated == 0
    await _stop(service)
    await _stop(service_remote)


async def test_a_request_elsewhere_cancels_the_speculation() -> None:
    engine = ScriptedEngine({"def f(x):\n    a": "bc", "def f(x):\n    ab": "c"})
    service = await _service(engine, prefetch=False)
    service.speculate(_query("def f(x):\n    a\n", 15))
    # The editor asks for another cursor before the worker took the job: it is dropped unrun.
    assert await _texts(service, _query("def f(x):\n    ab\n", 16)) == ["c"]
    assert engine.calls == ["def f(x):\n    ab"]
    # ... and so does a request in another document: it must not wait behind a guess.
    service.speculate(_query("def f(x):\n    a\n", 15))
    other = CompletionQuery(Snapshot("file:///b.py", "def f(x):\n    ab\n", 1, "python"), 16)
    assert await _texts(service, other) == ["c"]
    assert engine.calls == ["def f(x):\n    ab"] * 2
    await _stop(service)


async def test_a_running_job_serves_states_typed_through_its_output() -> None:
    from lsp_server.completion.background import Background
    from lsp_server.completion.query import CursorState

    before, after = "def f(x):\n    re", "\n"
    running = Background(CursorState.of(before, after), asyncio.get_running_loop().create_future(), "speculate")
    running.partial.text = "turn x"
    assert running.serves(before, after)  # its own state
    assert running.serves(before + "tu", after)  # typed what it is writing
    assert not running.serves(before + "tx", after)  # typed something else
    assert not running.serves(before + "turn x", after)  # typed all of it: nothing left to show
    assert not running.serves(before + "tu", "\n\nmore")  # the text after the cursor changed
    running.task.set_result(None)
    assert not running.serves(before + "tu", after)  # finished: the cache answers from now on


async def test_not_loaded_means_no_suggestions() -> None:
    service = CompletionService(EngineHost(Settings()))
    assert await service.complete(_query("x", 1)) == []
    await _stop(service)


def test_alternatives_offer_the_first_line() -> None:
    from lsp_server.completion.run import alternatives

    s = Suggestion
    assert alternatives(s("a\nb"), several=True) == [s("a\nb"), s("a")]
    assert alternatives(s("\n    x = 1\n    y"), several=True) == [s("\n    x = 1\n    y"), s("\n    x = 1")]
    assert alternatives(s("one line"), several=True) == [s("one line")]
    assert alternatives(s("a\nb", 4), several=True) == [s("a\nb", 4), s("a", 4)]  # a dedent stays one
    assert alternatives(s("a\nb"), several=False) == [s("a\nb")]
    assert alternatives(None, several=True) == []


@dataclass
class HeldEngine(ScriptedEngine):
    """Holds each generation until ``release`` is set; a cancelled one stops (at its next token)."""

    started: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def generate(self, job: GenerationJob, cancel: CancelToken) -> GenerationResult:
        self.started.set()
        while not self.release.is_set():
            if cancel.cancelled:
                return GenerationResult("", "cancelled", 10, 0, 1)
            time.sleep(0.005)
        return super().generate(job, cancel)


async def _started(engine: HeldEngine) -> None:
    assert await asyncio.get_running_loop().run_in_executor(None, engine.started.wait, 5)


async def test_two_requests_for_one_state_share_one_run() -> None:
    """A menu and an inline request at one cursor (Neovim's <C-x><C-o> beside its ghost text,
    issue 24): one run, the same suggestion for both; the later one used to cancel the first."""
    engine = HeldEngine({"def f(x):\n": "    return x"})
    service = await _service(engine, prefetch=False)
    first = asyncio.ensure_future(service.complete(_query("def f(x):\n    \n", 14)))
    await _started(engine)
    second = asyncio.ensure_future(service.complete(_query("def f(x):\n    \n", 14)))
    await asyncio.sleep(0.05)
    engine.release.set()
    assert [s.text for s in await first] == [s.text for s in await second] == ["return x"]
    assert len(engine.calls) == 1
    await _stop(service)


async def test_a_shared_run_goes_on_while_another_request_waits_for_it() -> None:
    engine = HeldEngine({"def f(x):\n": "    return x"})
    service = await _service(engine, prefetch=False)
    first = asyncio.ensure_future(service.complete(_query("def f(x):\n    \n", 14)))
    await _started(engine)
    second = asyncio.ensure_future(service.complete(_query("def f(x):\n    \n", 14)))
    await asyncio.sleep(0.05)
    first.cancel()  # $/cancelRequest for the first request only
    await asyncio.sleep(0.05)
    engine.release.set()
    assert [s.text for s in await second] == ["return x"]
    assert first.cancelled()
    await _stop(service)


async def test_a_run_nobody_waits_for_stops() -> None:
    engine = HeldEngine({"def f(x):\n": "    return x"})
    service = await _service(engine, prefetch=False)
    first = asyncio.ensure_future(service.complete(_query("def f(x):\n    \n", 14)))
    await _started(engine)
    first.cancel()
    await asyncio.sleep(0.1)  # the worker sees the cancel at its next token, without the release
    assert service.stats.cancelled == 1 and service.stats.completed == 0
    await _stop(service)


async def test_cancel_stops_the_documents_running_request() -> None:
    engine = HeldEngine({"def f(x):\n": "    return x"})
    service = await _service(engine)
    running = asyncio.ensure_future(service.complete(_query("def f(x):\n    \n", 14)))
    await _started(engine)
    service.cancel("file:///a.py")  # what a didChange does
    assert await running == []
    assert service.stats.cancelled == 1 and service.stats.completed == 0
    await _stop(service)


async def test_a_request_the_editor_cancelled_is_still_counted() -> None:
    engine = HeldEngine({})
    service = await _service(engine)
    running = asyncio.ensure_future(service.complete(_query("def f(x):\n    \n", 14)))
    await _started(engine)
    running.cancel()  # $/cancelRequest: nobody awaits the run any more
    for _ in range(200):
        if service.stats.cancelled:
            break
        await asyncio.sleep(0.01)
    assert service.stats.cancelled == 1 and service.stats.last.stopReason == "cancelled"
    await _stop(service)


async def test_a_request_superseded_before_it_ran_answers_nothing() -> None:
    engine = HeldEngine({"def f(x):\n    a": "bc", "def f(x):\n    ab": "c"})
    service = await _service(engine, prefetch=False)
    busy = asyncio.ensure_future(service.complete(_query("def f(x):\n    \n", 14)))
    await _started(engine)  # the worker is busy with another document
    b = "file:///b.py"
    stale = asyncio.ensure_future(service.complete(CompletionQuery(Snapshot(b, "def f(x):\n    a\n", 1, "python"), 15)))
    await asyncio.sleep(0.01)
    newer = asyncio.ensure_future(service.complete(CompletionQuery(Snapshot(b, "def f(x):\n    ab\n", 2, "python"), 16)))
    await asyncio.sleep(0.01)
    engine.release.set()
    assert await stale == []
    assert [s.text for s in await newer] == ["c"] and await busy == []
    assert service.stats_json()["dropped"] == 1
    await _stop(service)


async def test_reconfigure_says_when_the_engine_must_be_reloaded() -> None:
    service = CompletionService(EngineHost(Settings()))
    assert not service.host.reconfigure(Settings.of(speculate=False)) and not service.host.settings.serving.speculate
    assert service.host.reconfigure(Settings.of(speculate=False, n_ctx=1024))
    assert service.host.reconfigure(Settings.of(backend="ollama", n_ctx=1024))
    await _stop(service)


@pytest.mark.parametrize("name", sorted(KEYS))
async def test_the_engine_reloads_exactly_when_its_section_changes(name: str) -> None:
    service = CompletionService(EngineHost(Settings()))
    value = getattr(getattr(service.host.settings, KEYS[name]), name)
    changed = {bool: lambda v: not v, int: lambda v: v + 1, str: lambda v: v + "x", tuple: lambda v: (*v, "x")}
    assert service.host.reconfigure(service.host.settings.replace(**{name: changed[type(value)](value)})) == (KEYS[name] == "engine")
    await _stop(service)


async def test_engines_receive_only_their_section() -> None:
    seen: list[EngineSettings] = []

    def factory(section: EngineSettings) -> ScriptedEngine:
        seen.append(section)
        return ScriptedEngine({})

    settings = Settings.of(model="m", max_tokens=5)
    service = CompletionService(EngineHost(settings, factory))
    await service.host.load(lambda _m, _p: None)
    assert seen == [settings.engine]
    await _stop(service)


async def test_a_prompt_over_the_servers_request_share_is_warned_at_load(caplog: pytest.LogCaptureFixture) -> None:
    class SlotEngine(ScriptedEngine):
        def load(self, progress):  # type: ignore[no-untyped-def]
            return EngineInfo("remote", "none", "qwen", Capabilities(local=False), request_tokens=512)

    # prefix + suffix (128) + maxTokens (96) + importContextTokens (128): 480 fits 512, 736 does not
    for prefix, warned in ((128, False), (384, True)):
        caplog.clear()
        service = await _service(SlotEngine({}), prefix_tokens=prefix, suffix_tokens=128)
        assert ("a request may need" in caplog.text) == warned
        await _stop(service)


async def test_remote_is_the_loaded_engines_word_before_that_the_backends() -> None:
    service = CompletionService(EngineHost(Settings.of(backend="ollama"), lambda _s: ScriptedEngine({})))
    assert service.host.remote  # nothing loaded (or the load failed): the setting decides
    await service.host.load(lambda _m, _p: None)
    assert not service.host.remote  # this engine says it runs in this process
    await _stop(service)


class _ThreadLog(dict):  # type: ignore[type-arg]
    """A dict that notes the threads that touch it."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[str] = set()

    def _note(self) -> None:
        self.threads.add(threading.current_thread().name)

    def get(self, *args):  # type: ignore[no-untyped-def,override]
        self._note()
        return super().get(*args)

    def __setitem__(self, key, value):  # type: ignore[no-untyped-def]
        self._note()
        super().__setitem__(key, value)

    def pop(self, *args):  # type: ignore[no-untyped-def,override]
        self._note()
        return super().pop(*args)

    def clear(self) -> None:
        self._note()
        super().clear()


async def test_prompt_anchors_are_the_worker_threads_alone() -> None:
    from lsp_server.completion.cache import SuggestionCache
    from lsp_server.completion.run import Runner
    from lsp_server.engine.worker import EngineWorker

    worker = EngineWorker()
    runner = Runner(worker, SuggestionCache())
    anchors = runner._anchors = _ThreadLog()
    engine = ScriptedEngine({"def f(x):\n": "    return x"})
    query = _query("def f(x):\n    \n", 14)
    _, found = await runner.run(engine, Settings(), query, query.uri, lambda _r, _s: None)
    assert [s.text for s in found] == ["return x"] and query.uri in anchors
    runner.forget(query.uri)  # a closed document: posted behind the jobs already queued
    await worker.call(lambda: None)
    assert not anchors
    runner.reset()  # a new engine
    await worker.call(lambda: None)
    assert anchors.threads and all(name.startswith("fim-engine") for name in anchors.threads)
    worker.shutdown()


async def test_counts_are_written_on_the_event_loop() -> None:
    engine = ScriptedEngine({"def f(x):\n": "    return x"})
    service = await _service(engine, prefetch=False)
    loop_thread, seen = threading.current_thread(), []
    record = service.stats.record

    def spy(*args):  # type: ignore[no-untyped-def]
        seen.append(threading.current_thread())
        record(*args)

    service.stats.record = spy  # type: ignore[method-assign]
    assert await _texts(service, _query("def f(x):\n    \n", 14)) == ["return x"]
    assert seen == [loop_thread] and service.stats.completed == 1  # counted before the answer
    await _stop(service)


async def test_repo_context_puts_the_imported_definitions_before_the_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from lsp_server.workspace import WorkspaceIndex

    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg/__init__.py").write_text("")
    (tmp_path / "pkg/util.py").write_text("def helper(x: int) -> str:\n    return str(x)\n")
    app = tmp_path / "pkg/app.py"
    text = "from .util import helper\n\ndef f(x):\n    \n"
    seen: list[tuple] = []

    class Seeing(ScriptedEngine):
        def generate(self, job: GenerationJob, cancel: CancelToken) -> GenerationResult:
            seen.append(job.prompt.extra)
            return super().generate(job, cancel)

    for on in (True, False):
        index = WorkspaceIndex([tmp_path])
        service = CompletionService(EngineHost(Settings.of(repo_context=on, prefetch=False), lambda _s: Seeing({})), index)
        await service.host.load(lambda _m, _p: None)
        query = CompletionQuery(Snapshot(app.as_uri(), text, 1, "python"), len(text) - 1, file=str(app))
        await service.complete(query)
        await _stop(service)
        index.close()
    with_context, without = seen
    assert [(c.path, c.text) for c in with_context] == [("pkg/util.py", "def helper(x: int) -> str:\n    ...")]
    assert without == ()
