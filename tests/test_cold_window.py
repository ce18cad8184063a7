"""The cold-start window (completion/cold.py): the plan as pure functions, and the service's use
of it with a scripted engine that reports how much of a prompt it would evaluate (no model)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from lsp_server.completion import CompletionQuery, CompletionService
from lsp_server.completion.cold import (
    DEFAULT_RATE,
    GENERATION_SHARE,
    MIN_WINDOW_TOKENS,
    OVERHEAD_TOKENS,
    cold_settings,
    hurried,
    tokens_within,
)
from lsp_server.config import PromptSettings, Settings
from lsp_server.context.types import Prompt
from lsp_server.documents import Snapshot
from lsp_server.engine.base import (
    CancelToken,
    Capabilities,
    EngineInfo,
    GenerationJob,
    GenerationResult,
)
from lsp_server.engine.host import EngineHost
from lsp_server.pipeline import prepare


def test_tokens_within_uses_the_measured_rate_else_the_default() -> None:
    assert tokens_within(250.0, 1000) == 250
    assert tokens_within(250.0, 400) == 100
    assert tokens_within(None, 1000) == int(DEFAULT_RATE)
    assert tokens_within(0.0, 1000) == int(DEFAULT_RATE)


def test_a_prompt_that_fits_the_budget_keeps_todays_shape() -> None:
    shape = PromptSettings()
    assert cold_settings(shape, missing=200, total=520, fits=200) is None
    assert cold_settings(shape, missing=1, total=520, fits=100) is None  # warm: all but a token cached
    # however slow the machine, what is missing costs no more than the smallest window would
    least = MIN_WINDOW_TOKENS + OVERHEAD_TOKENS
    assert cold_settings(shape, missing=least, total=least, fits=2) is None
    assert cold_settings(shape, missing=least + 1, total=least + 1, fits=2) is not None


def test_a_prompt_mostly_in_the_cache_keeps_todays_shape() -> None:
    """A re-anchor while typing: the prefix window is cached and the new lines and the suffix
    are not. A small window would evict the cached prefix (it shares no start with it)."""
    shape = PromptSettings()
    assert cold_settings(shape, missing=400, total=600, fits=200) is None  # 200 cached: half what is missing
    assert cold_settings(shape, missing=400, total=599, fits=200) is not None  # 199 cached
    # slow engine: the smallest window is all that fits, and the cached prefix still wins
    assert cold_settings(shape, missing=500, total=800, fits=2) is None


def test_a_cached_head_alone_does_not_keep_the_small_window_away() -> None:
    """A jump, or a file just opened: the import lines (up to 128 tokens) or the prewarmed start
    of the file are cached, and the window at the cursor is not. That is not a warm prompt, even
    where the engine is slow enough that the smallest window is all that fits."""
    shape = PromptSettings()
    assert cold_settings(shape, missing=700, total=830, fits=100) is not None
    assert cold_settings(shape, missing=700, total=830, fits=200) is not None


def test_the_budget_off_keeps_todays_shape() -> None:
    assert cold_settings(PromptSettings(cold_budget_ms=0), missing=520, total=520, fits=100) is None


def test_a_cold_prompt_gets_windows_scaled_to_what_fits() -> None:
    shape = PromptSettings(prefix_tokens=384, suffix_tokens=128, import_context_tokens=128, repo_context=True)
    small = cold_settings(shape, missing=600, total=600, fits=272)
    assert small is not None
    scale = (272 - OVERHEAD_TOKENS) / 512
    assert (small.prefix_tokens, small.suffix_tokens) == (int(384 * scale), int(128 * scale))
    assert small.import_context_tokens == 0 and not small.repo_context and not small.extra_context
    assert small.max_tokens == shape.max_tokens and small.cold_budget_ms == shape.cold_budget_ms


def test_a_cold_window_keeps_a_floor_of_context() -> None:
    small = cold_settings(PromptSettings(), missing=600, total=600, fits=10)
    assert small is not None
    assert small.prefix_tokens + small.suffix_tokens in (MIN_WINDOW_TOKENS - 1, MIN_WINDOW_TOKENS)


def test_when_only_other_context_does_not_fit_the_windows_stay() -> None:
    shape = PromptSettings(prefix_tokens=100, suffix_tokens=20, repo_context=True)
    small = cold_settings(shape, missing=500, total=500, fits=300)
    assert small is not None and (small.prefix_tokens, small.suffix_tokens) == (100, 20) and not small.repo_context


def test_hurried_cuts_the_generation_budget_but_keeps_the_grace_to_finish_a_block() -> None:
    text = "def f(x):\n    \n"
    prepared, _ = prepare(text, 14, PromptSettings(time_budget_ms=3000), lambda s: len(s.split()))
    fast = hurried(prepared, 1000)
    assert fast.budget_ms == int(1000 * GENERATION_SHARE)
    assert fast.budget_ms + fast.grace_ms == prepared.budget_ms + prepared.grace_ms  # time to finish a block
    assert fast.prompt == prepared.prompt and fast.max_tokens == prepared.max_tokens
    assert fast.end_in_budget and not prepared.end_in_budget  # a blank line has the whole budget
    slow_already = hurried(prepared, 100_000)
    assert slow_already.budget_ms == prepared.budget_ms


# --- the service --------------------------------------------------------------------------------


@dataclass
class MeteredEngine:
    """Counts words as tokens; the KV cache holds the last prompt generated or warmed, and a
    prompt's unevaluated tokens are those past the common prefix of words with it."""

    rate: float | None = 100.0
    jobs: list[GenerationJob] = field(default_factory=list)
    warmed: list[Prompt] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)

    def load(self, progress):  # type: ignore[no-untyped-def]
        return EngineInfo("metered", "none", "qwen", Capabilities())

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def _words(self, prompt: Prompt) -> list[str]:
        return (prompt.prefix + " <suffix> " + prompt.suffix + " <middle> " + prompt.middle).split()

    def unevaluated(self, prompt: Prompt, session: str) -> tuple[int, int]:
        words = self._words(prompt)
        common = 0
        while common < min(len(words), len(self.cached)) and words[common] == self.cached[common]:
            common += 1
        return len(words), len(words) - common

    def prompt_rate(self) -> float | None:
        return self.rate

    def generate(self, job: GenerationJob, cancel: CancelToken) -> GenerationResult:
        self.jobs.append(job)
        self.cached = self._words(job.prompt)
        return GenerationResult("x = 1", "eos", len(self.cached), 0, 3)

    def warm(self, prompt: Prompt, session: str, cancel: CancelToken, through_suffix: bool) -> GenerationResult:
        self.warmed.append(prompt)
        self.cached = self._words(prompt)
        return GenerationResult("", "warm", len(self.cached))

    def close(self) -> None:
        pass


# 300 numbered lines of two words each: 600 tokens before the cursor, the cursor at the end.
TEXT = "".join(f"v{i} = {i}\n" for i in range(300)) + "y = "
SETTINGS = {"prefetch": False, "speculate": False, "prefix_tokens": 384, "suffix_tokens": 128,
            "cold_budget_ms": 1000, "time_budget_ms": 3000, "typing_budget_ms": 3000}  # fmt: skip


async def _service(engine: MeteredEngine, **settings: object) -> CompletionService:
    service = CompletionService(EngineHost(Settings.of(**{**SETTINGS, **settings}), lambda _s: engine))
    await service.host.load(lambda _m, _p: None)
    return service


def _query(text: str = TEXT, uri: str = "file:///a.py") -> CompletionQuery:
    return CompletionQuery(Snapshot(uri, text, 1, "python"), len(text))


async def _settle(service: CompletionService, engine: MeteredEngine, warmed: int) -> None:
    for _ in range(100):
        if len(engine.warmed) >= warmed:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"no background warm ({engine.warmed})")


async def test_a_cold_request_gets_a_small_window_then_the_next_one_todays() -> None:
    engine = MeteredEngine(rate=100.0)  # 100 tokens in the 1 s budget: 384 + 128 do not fit
    service = await _service(engine)
    try:
        await service.complete(_query())
        cold = engine.jobs[-1]
        assert service.stats.last.cold == "window" and service.stats.coldWindows == 1
        assert len(engine._words(cold.prompt)) <= MIN_WINDOW_TOKENS + OVERHEAD_TOKENS
        assert cold.time_budget_s == 1000 * GENERATION_SHARE / 1000
        await _settle(service, engine, 1)  # the full window grows in the background
        for _ in range(100):
            if service.stats.grown:
                break
            await asyncio.sleep(0.01)
        assert service.stats.grown == 1 and service.stats.prewarmed == 0
        full = engine.warmed[-1]
        await service.complete(_query(TEXT + "v"))  # the user typed: the next request
        warm = engine.jobs[-1]
        assert service.stats.last.cold == "" and service.stats.coldWindows == 1
        assert warm.prompt.prefix == full.prefix and warm.prompt.suffix == full.suffix
        assert warm.time_budget_s == 3.0
        # Today's prompt exactly: what a server without the cold window builds for this state.
        plain = await _service(MeteredEngine(), cold_budget_ms=0)
        try:
            await plain.complete(_query())  # the same history: the anchor set at the first cursor
            await plain.complete(_query(TEXT + "v"))
            assert plain._host.engine.jobs[-1].prompt == warm.prompt  # type: ignore[union-attr]
        finally:
            plain.shutdown()
            await plain.host.shutdown()
    finally:
        service.shutdown()
        await service.host.shutdown()


async def test_a_fast_engine_gets_the_full_window_and_only_the_first_run_is_hurried() -> None:
    engine = MeteredEngine(rate=10_000.0)  # everything fits the budget
    service = await _service(engine)
    try:
        await service.complete(_query())
        assert service.stats.last.cold == "first" and engine.jobs[-1].time_budget_s == 0.5
        assert service.stats.coldWindows == 0 and not engine.warmed
        await service.complete(_query(TEXT + "v"))
        assert service.stats.last.cold == "" and engine.jobs[-1].time_budget_s == 3.0
    finally:
        service.shutdown()
        await service.host.shutdown()


async def test_a_pinned_prompt_rate_sizes_the_window_whatever_the_engine_measured() -> None:
    """``coldPromptRate``: two benchmark runs get the same cold windows on a noisy machine."""
    for measured, pinned, kind in ((10_000.0, 100, "window"), (100.0, 10_000, "first")):
        engine = MeteredEngine(rate=measured)
        service = await _service(engine, cold_prompt_rate=pinned)
        try:
            await service.complete(_query())
            assert service.stats.last.cold == kind
            words = len(engine._words(engine.jobs[-1].prompt))
            assert words <= MIN_WINDOW_TOKENS + OVERHEAD_TOKENS if kind == "window" else words > 384
        finally:
            service.shutdown()
            await service.host.shutdown()


@pytest.mark.parametrize("settings", [
    {"cold_budget_ms": 0},
    # no KV cache kept between requests: a small window would be every request's, never grown
    {"kv_reuse": False},
], ids=["budget off", "no kv reuse"])
async def test_where_the_window_is_off_every_run_is_as_today(settings: dict[str, object]) -> None:
    engine = MeteredEngine(rate=1.0)
    service = await _service(engine, **settings)
    try:
        await service.complete(_query())
        assert service.stats.last.cold == "" and engine.jobs[-1].time_budget_s == 3.0
        assert len(engine._words(engine.jobs[-1].prompt)) > 384  # the full prefix window
    finally:
        service.shutdown()
        await service.host.shutdown()


async def test_a_speculation_on_a_cold_document_is_hurried_as_the_request_it_stands_for() -> None:
    """An editor that completes as the user types: the first keystroke in a newly opened file
    starts a speculation, and the request adopts it. Run on the full window, the request would
    wait for all of it; it gets the small window, and the full one grows after it."""
    engine = MeteredEngine(rate=100.0)
    service = await _service(engine, speculate=True)
    try:
        service.speculate(_query())
        await service.complete(_query())  # adopts the speculation
        assert len(engine.jobs) == 1
        assert len(engine._words(engine.jobs[0].prompt)) <= MIN_WINDOW_TOKENS + OVERHEAD_TOKENS
        assert service.stats.last.source == "speculate" and service.stats.last.cold == "window"
        await _settle(service, engine, 1)
        for _ in range(100):
            if service.stats.grown:
                break
            await asyncio.sleep(0.01)
        assert service.stats.coldWindows == service.stats.grown == 1
        assert len(engine.warmed[-1].prefix.split()) > 2 * MIN_WINDOW_TOKENS  # the full prefix window
    finally:
        service.shutdown()
        await service.host.shutdown()


async def test_no_second_cold_window_before_the_full_window_is_warm_again() -> None:
    """The cold window and the full one share no prompt start: a request that comes while the
    full window is still growing (the user typed on) evaluates the rest of the full window, not
    the small one over it; once the full window is warm, a later cold prompt (a jump) may take
    a small window again."""
    engine = MeteredEngine(rate=100.0)
    service = await _service(engine)
    try:
        await service.complete(_query())
        assert service.stats.last.cold == "window"
        await _settle(service, engine, 1)
        engine.cached = engine.cached[:40]  # the grow was displaced after 40 of its tokens
        await service.complete(_query(TEXT + "v"))
        assert service.stats.last.cold == "" and service.stats.coldWindows == 1
        assert len(engine._words(engine.jobs[-1].prompt)) > 384  # the full window's prompt
        await service.complete(_query(TEXT + "v1"))  # the full window is warm now
        assert service.stats.last.cold == ""
        engine.cached = []  # another file took the cache, or the user jumped far away
        await service.complete(_query(TEXT + "v12"))
        assert service.stats.last.cold == "window" and service.stats.coldWindows == 2
    finally:
        service.shutdown()
        await service.host.shutdown()
