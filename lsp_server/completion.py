"""The completion feature: snapshot + cursor in, suggestions out. No pygls here.

Owns the engine's lifecycle (load, reload on settings that need it), the per-document prompt
anchors that keep the KV cache warm, and the counters behind ``fimLsp/stats``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

from lsp_server.config import Settings
from lsp_server.context.types import ExtraChunk
from lsp_server.context.window import (
    Anchor,
    PromptBudget,
    build_prompt,
    extra_chunks,
    heal_indentation,
    unheal,
)
from lsp_server.documents import Snapshot
from lsp_server.engine import (
    Engine,
    EngineError,
    EngineInfo,
    GenerationJob,
    GenerationResult,
    create_engine,
)
from lsp_server.engine.base import CancelToken, ProgressCallback
from lsp_server.postprocess import CursorContext, clean, should_stop
from lsp_server.suggestion_cache import HEAD, SuggestionCache
from lsp_server.worker import EngineWorker, StaleJob

PREFETCH = "#prefetch"  # worker key suffix: a didChange does not cancel prefetches

log = logging.getLogger(__name__)

# Settings whose change needs a new engine (a model reload or a new connection).
RELOAD_FIELDS = ("model", "backend", "url", "remote_model", "api_key_env", "n_ctx", "n_threads",
                 "n_gpu_layers", "fim_template", "n_batch", "kv_reuse")


@dataclass
class RequestStats:
    request: int = 0  # the request's number (Stats.requests when it arrived)
    source: str = ""  # "model" or "cache"
    nPrompt: int = 0
    nReused: int = 0
    nGenerated: int = 0
    tPromptS: float = 0.0
    tGenS: float = 0.0
    stopReason: str = ""
    totalS: float = 0.0


@dataclass
class Stats:
    requests: int = 0
    completed: int = 0
    cancelled: int = 0
    cacheHits: int = 0
    prefetched: int = 0
    nPrompt: int = 0
    nReused: int = 0
    nGenerated: int = 0
    tPromptS: float = 0.0
    tGenS: float = 0.0
    coldStartS: float | None = None
    last: RequestStats = field(default_factory=RequestStats)

    def record(self, request: int, result: GenerationResult, total_s: float) -> None:
        """Called where the job ends (the worker), so cancelled work is counted too."""
        self.completed += result.stop_reason != "cancelled"
        self.cancelled += result.stop_reason == "cancelled"
        self.nPrompt += result.n_prompt
        self.nReused += result.n_reused
        self.nGenerated += result.n_generated
        self.tPromptS += result.t_prompt_s
        self.tGenS += result.t_gen_s
        self.last = RequestStats(request, "model", result.n_prompt, result.n_reused, result.n_generated,
                                 result.t_prompt_s, result.t_gen_s, result.stop_reason, total_s)

    def record_cache_hit(self, request: int) -> None:
        self.cacheHits += 1
        self.last = RequestStats(request, "cache", stopReason="cache")

    def as_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class CompletionQuery:
    snapshot: Snapshot
    offset: int  # string index of the cursor
    path: str = ""  # file path relative to the workspace
    repo: str = ""
    several: bool = False  # Invoked requests may get alternatives
    others: tuple[tuple[str, str], ...] = ()  # (path, text) of other open files, most relevant first


class CompletionService:
    def __init__(self, settings: Settings, engine_factory: Callable[[Settings], Engine] = create_engine) -> None:
        self.settings = settings
        self._factory = engine_factory
        self._engine: Engine | None = None
        self.info: EngineInfo | None = None
        self.error: EngineError | None = None
        self.worker = EngineWorker(threads=1)
        self._anchors: dict[str, Anchor] = {}
        self.stats = Stats()
        self.cache = SuggestionCache()
        self._prefetch_error: EngineError | None = None
        self._prefetches: dict[str, tuple[tuple[int, str, str], asyncio.Future[None]]] = {}
        self._started = time.monotonic()

    @property
    def ready(self) -> bool:
        return self._engine is not None and self.info is not None

    async def load(self, progress: ProgressCallback) -> EngineInfo:
        """(Re)create and load the engine on the worker; raises EngineError with a hint."""
        old, self._engine, self.info, self.error = self._engine, None, None, None
        self._anchors.clear()
        engine = self._factory(self.settings)

        def run() -> EngineInfo:
            if old is not None:
                old.close()
            return engine.load(progress)

        try:
            info = await self.worker.call(run)
        except EngineError as err:
            self.error = err
            raise
        except MemoryError as err:
            self.error = EngineError("out of memory while loading the model", "Pick a smaller model or lower fimLsp.nCtx.")
            raise self.error from err
        self._engine, self.info = engine, info
        return info

    def needs_reload(self, new: Settings) -> bool:
        return any(getattr(new, f) != getattr(self.settings, f) for f in RELOAD_FIELDS)

    def forget(self, uri: str) -> None:
        self._anchors.pop(uri, None)
        self.cache.forget(uri)
        self.worker.cancel(uri)

    async def complete(self, query: CompletionQuery) -> list[str]:
        """Suggestions for the cursor, best first; [] when there is nothing worth showing."""
        if self._engine is None:
            return []
        self.stats.requests += 1
        if self._prefetch_error is not None:
            err, self._prefetch_error = self._prefetch_error, None
            raise err
        engine, settings = self._engine, self.settings
        text, offset, uri = query.snapshot.text, query.offset, query.snapshot.uri
        number = self.stats.requests
        cached = await self._from_cache_or_prefetch(uri, text, offset)
        if cached is not None:
            self.stats.record_cache_hit(number)
            return cached
        started = time.monotonic()

        def job(token: CancelToken) -> tuple[GenerationResult, CursorContext]:
            result, ctx = self._run(engine, settings, query, token)
            self.stats.record(number, result, time.monotonic() - started)
            return result, ctx

        # On $/cancelRequest this await raises CancelledError; the worker stops at its next token.
        result, ctx = await self.worker.submit(query.snapshot.uri, job)
        if self.stats.coldStartS is None and result.stop_reason != "cancelled":
            self.stats.coldStartS = time.monotonic() - self._started
        if result.stop_reason == "cancelled":
            return []
        texts = self._suggestions(query, result, ctx)
        if texts and settings.prefetch and settings.suggestion_cache:
            self._start_prefetch(query, texts[0])
        return texts

    async def _from_cache_or_prefetch(self, uri: str, text: str, offset: int) -> list[str] | None:
        """A cached answer; waits for a running prefetch of exactly this state, else cancels it."""
        use_cache = self.settings.suggestion_cache
        before, after = text[:offset], text[offset : offset + HEAD]
        cached = self.cache.lookup(uri, before, after) if use_cache else None
        if cached is not None:
            return cached
        running = self._prefetches.pop(uri, None)
        if running is not None:
            target, task = running
            if use_cache and target == (len(before), before[-HEAD:], after) and not task.done():
                await asyncio.shield(task)
                return self.cache.lookup(uri, before, after)
            self.worker.cancel(uri + PREFETCH)
        return None

    def _start_prefetch(self, query: CompletionQuery, accepted: str) -> None:
        """Compute the next suggestion as if this one were accepted, while the user reads it."""
        doc, offset = query.snapshot, query.offset
        text = doc.text[:offset] + accepted + doc.text[offset:]
        ahead = replace(query, snapshot=replace(doc, text=text), offset=offset + len(accepted))
        before, after = text[: ahead.offset], text[ahead.offset : ahead.offset + HEAD]
        task = asyncio.ensure_future(self._prefetch(ahead))
        self._prefetches[doc.uri] = ((len(before), before[-HEAD:], after), task)

    async def _prefetch(self, query: CompletionQuery) -> None:
        engine, settings = self._engine, self.settings
        if engine is None:
            return
        try:
            result, ctx = await self.worker.submit(
                query.snapshot.uri + PREFETCH, lambda token: self._run(engine, settings, query, token)
            )
        except (StaleJob, asyncio.CancelledError):
            return
        except EngineError as err:  # e.g. the remote engine went down: tell the user next time
            self._prefetch_error = err
            return
        if result.stop_reason == "cancelled":
            return
        self.stats.prefetched += 1
        self._suggestions(query, result, ctx)

    def _suggestions(self, query: CompletionQuery, result: GenerationResult, ctx: CursorContext) -> list[str]:
        """Clean the model's text into suggestions and remember them for this position."""
        texts = alternatives(clean(result.text, ctx, result.stop_reason), query.several)
        text, offset = query.snapshot.text, query.offset
        self.cache.remember(query.snapshot.uri, text[:offset], text[offset : offset + HEAD], texts)
        return texts

    def _run(
        self, engine: Engine, settings: Settings, query: CompletionQuery, token: CancelToken
    ) -> tuple[GenerationResult, CursorContext]:
        """On the worker thread: build the prompt (tokenizing needs the model) and generate."""
        text, offset = query.snapshot.text, query.offset
        budget = PromptBudget(settings.prefix_tokens, settings.suffix_tokens, settings.extra_context_tokens)
        extra: tuple[ExtraChunk, ...] = ()
        if settings.extra_context and query.others and budget.extra_tokens:
            extra = extra_chunks(list(query.others), budget.extra_tokens, engine.count_tokens)
        uri = query.snapshot.uri
        prompt, anchor = build_prompt(text, offset, budget, engine.count_tokens, self._anchors.get(uri),
                                      query.path, query.repo, query.snapshot.language_id, extra)
        self._anchors[uri] = anchor
        if settings.prompt_layout == "psm":  # the classic layout: the whole prefix before the suffix
            prompt = replace(prompt, prefix=prompt.prefix + prompt.middle, middle="")
        prompt, indent = heal_indentation(prompt)
        ctx = CursorContext.from_text(text[max(0, offset - 4000) : offset], text[offset : offset + 4000],
                                      settings.multiline)
        stop = should_stop(ctx)
        budget_ms = settings.time_budget_ms
        if ctx.line_before.strip():
            budget_ms = min(budget_ms, settings.typing_budget_ms)
        job = GenerationJob(
            prompt=prompt,
            max_tokens=settings.max_tokens if ctx.multiline else min(settings.max_tokens, 48),
            time_budget_s=budget_ms / 1000,
            should_stop=lambda generated: stop(unheal(generated, indent)),
            session=uri,
        )
        result = engine.generate(job, token)
        result.text = unheal(result.text, indent)
        return result, ctx

    async def shutdown(self) -> None:
        """Stop running jobs, then close the engine on its own thread (never under a decode)."""
        self.worker.cancel_all()
        engine, self._engine, self.info = self._engine, None, None
        if engine is not None:
            try:
                await asyncio.wait_for(self.worker.call(engine.close), timeout=30)
            except Exception:  # closing on exit must never raise
                log.debug("engine close failed", exc_info=True)
        self.worker.shutdown()


def alternatives(text: str, several: bool) -> list[str]:
    """The suggestion, plus its first non-blank line as a shorter alternative when asked for several."""
    if not text:
        return []
    lines = text.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), len(lines) - 1)
    short = "\n".join(lines[: first + 1])
    return [text, short] if several and short != text else [text]
