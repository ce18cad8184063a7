"""The completion feature with a scripted engine: caching, prefetch, staleness (no model)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from lsp_server.completion import CompletionQuery, CompletionService
from lsp_server.config import Settings
from lsp_server.documents import Snapshot
from lsp_server.engine.base import (
    CancelToken,
    Capabilities,
    EngineInfo,
    GenerationJob,
    GenerationResult,
)


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
    service = CompletionService(Settings(**settings), engine_factory=lambda _s: engine)  # type: ignore[arg-type]
    await service.load(lambda _m, _p: None)
    return service


def _query(text: str, offset: int) -> CompletionQuery:
    return CompletionQuery(Snapshot("file:///a.py", text, 1, "python"), offset)


async def test_prefetch_answers_the_accepted_state_without_a_new_generation() -> None:
    doc = "def f(x):\n    \n"
    engine = ScriptedEngine({"def f(x):\n": "y = x + 1", "def f(x):\n    y = x + 1": "\n    return y"})
    service = await _service(engine)
    assert await service.complete(_query(doc, 14)) == ["y = x + 1"]
    accepted = "def f(x):\n    y = x + 1\n"
    for _ in range(50):  # let the prefetch run on the worker
        if service.stats.prefetched:
            break
        await asyncio.sleep(0.01)
    calls = len(engine.calls)
    assert await service.complete(_query(accepted, 23)) == ["\n    return y"]
    assert len(engine.calls) == calls and service.stats.cacheHits == 1
    await service.shutdown()


async def test_typed_through_needs_no_generation() -> None:
    doc = "def f(x):\n    \n"
    engine = ScriptedEngine({"def f(x):\n": "return x * 2"})
    service = await _service(engine, prefetch=False)
    assert await service.complete(_query(doc, 14)) == ["return x * 2"]
    typed = "def f(x):\n    ret\n"
    assert await service.complete(_query(typed, 17)) == ["urn x * 2"]
    assert len(engine.calls) == 1
    await service.shutdown()


async def test_not_loaded_means_no_suggestions() -> None:
    service = CompletionService(Settings())
    assert await service.complete(_query("x", 1)) == []
    await service.shutdown()


def test_alternatives_offer_the_first_line() -> None:
    from lsp_server.completion import alternatives

    assert alternatives("a\nb", several=True) == ["a\nb", "a"]
    assert alternatives("\n    x = 1\n    y", several=True) == ["\n    x = 1\n    y", "\n    x = 1"]
    assert alternatives("one line", several=True) == ["one line"]
    assert alternatives("a\nb", several=False) == ["a\nb"]
    assert alternatives("", several=True) == []
