"""The completion feature: snapshot + cursor in, suggestions out. No pygls here.

Owns the engine's lifecycle (load, reload on settings that need it), the per-document prompt
anchors that keep the KV cache warm, background work (prefetch of the accepted state, and
speculation: the request an editor is about to send after its debounce), and the counters
behind ``fimLsp/stats``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

from lsp_server.completion.cache import SuggestionCache
from lsp_server.completion.query import HEAD, CompletionQuery, CursorState
from lsp_server.completion.worker import EngineWorker, StaleJob
from lsp_server.config import Settings
from lsp_server.context.types import ExtraChunk
from lsp_server.context.window import Anchor, extra_chunks
from lsp_server.documents import Snapshot
from lsp_server.engine import (
    Engine,
    EngineError,
    EngineInfo,
    GenerationResult,
    create_engine,
)
from lsp_server.engine.base import CancelToken, ProgressCallback
from lsp_server.pipeline import job_for, prepare
from lsp_server.postprocess import Suggestion

PREFETCH = "#prefetch"  # worker key suffix of background jobs: a didChange does not cancel them

log = logging.getLogger(__name__)

# Settings whose change needs a new engine (a model reload or a new connection).
RELOAD_FIELDS = ("model", "backend", "url", "remote_model", "api_key_env", "n_ctx", "n_threads",
                 "n_gpu_layers", "fim_template", "n_batch", "kv_reuse", "lookup_decoding")


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
    completed: int = 0  # requests answered by a model run (their own, or a background one they awaited)
    cancelled: int = 0
    cacheHits: int = 0
    prefetched: int = 0  # background runs finished: the accepted state
    speculated: int = 0  # ... and the state the user just typed
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
        self.record_background(result)
        self.last = RequestStats(request, "model", result.n_prompt, result.n_reused, result.n_generated,
                                 result.t_prompt_s, result.t_gen_s, result.stop_reason, total_s)

    def record_background(self, result: GenerationResult) -> None:
        """Token counts of any run, finished or not; alone for background work, so the reuse
        share covers all work."""
        self.nPrompt += result.n_prompt
        self.nReused += result.n_reused
        self.nGenerated += result.n_generated
        self.tPromptS += result.t_prompt_s
        self.tGenS += result.t_gen_s

    def record_adopted(self, request: int, result: GenerationResult, kind: str) -> None:
        """A request answered by the background run it waited for (tokens already counted)."""
        self.completed += 1
        self.last = RequestStats(request, kind, result.n_prompt, result.n_reused, result.n_generated,
                                 result.t_prompt_s, result.t_gen_s, result.stop_reason,
                                 result.t_prompt_s + result.t_gen_s)

    def record_cache_hit(self, request: int) -> None:
        self.cacheHits += 1
        self.last = RequestStats(request, "cache", stopReason="cache")

    def as_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class Partial:
    """The text a running job has generated so far (written on the worker, read on the loop)."""

    text: str = ""


@dataclass
class Background:
    """A background job and the cursor state it completes."""

    target: CursorState
    task: asyncio.Future[GenerationResult | None]
    kind: str  # "prefetch" (the accepted suggestion) or "speculate" (what the user just typed)
    partial: Partial = field(default_factory=Partial)

    def serves(self, before: str, after: str) -> bool:
        """True for its own state, and while running, for states typed through what it writes."""
        if self.target == CursorState.of(before, after):
            return True
        # Something must be left to show: the job will write the rest.
        return not self.task.done() and bool(self.target.typed_through(before, after, self.partial.text))


class CompletionService:
    def __init__(self, settings: Settings, engine_factory: Callable[[Settings], Engine] = create_engine) -> None:
        self._settings = settings
        self._factory = engine_factory
        self._engine: Engine | None = None
        self.info: EngineInfo | None = None
        self.error: EngineError | None = None
        self._worker = EngineWorker(threads=1)
        self._anchors: dict[str, Anchor] = {}
        self.stats = Stats()
        self.cache = SuggestionCache()
        self._prefetch_error: EngineError | None = None
        self._background: dict[str, Background] = {}
        self._started = time.monotonic()

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def ready(self) -> bool:
        return self._engine is not None and self.info is not None

    @property
    def remote(self) -> bool:
        """A shared server completes, not this process: the loaded engine says so; before one
        loads, the backend setting does."""
        if self.info is not None:
            return not self.info.capabilities.local
        return self.settings.backend != "llama_cpp"

    def stats_json(self) -> dict[str, object]:
        """The counters for ``fimLsp/stats``, with the jobs dropped before they ran."""
        data = self.stats.as_json()
        data["dropped"] = self._worker.dropped
        return data

    def reconfigure(self, settings: Settings) -> bool:
        """Put new settings in force; True when the engine must be reloaded (`load`) for them."""
        reload = any(getattr(settings, f) != getattr(self._settings, f) for f in RELOAD_FIELDS)
        self._settings = settings
        return reload

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
            info = await self._worker.call(run)
        except EngineError as err:
            self.error = err
            raise
        except MemoryError as err:
            self.error = EngineError("out of memory while loading the model", "Pick a smaller model or lower fimLsp.nCtx.")
            raise self.error from err
        self._engine, self.info = engine, info
        return info

    def cancel(self, uri: str) -> None:
        """A newer version of the document makes its running request stale. Background work goes
        on: it may serve the new state."""
        self._worker.cancel(uri)

    def forget(self, uri: str) -> None:
        self._anchors.pop(uri, None)
        self.cache.forget(uri)
        self._worker.cancel(uri)
        self._cancel_background(uri)

    async def complete(self, query: CompletionQuery) -> list[Suggestion]:
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
        cached = await self._from_cache_or_background(uri, text, offset, number)
        if cached is not None:
            self._prefetch_after(query, cached)
            return cached
        started = time.monotonic()

        def job(token: CancelToken) -> tuple[GenerationResult, Suggestion | None]:
            result, found = self._run(engine, settings, query, token)
            self.stats.record(number, result, time.monotonic() - started)
            return result, found

        try:
            # On $/cancelRequest this await raises CancelledError; the worker stops at its next token.
            result, found = await self._worker.submit(query.snapshot.uri, job)
        except StaleJob:  # a newer request for the document came before this one ran
            return []
        if self.stats.coldStartS is None and result.stop_reason != "cancelled":
            self.stats.coldStartS = time.monotonic() - self._started
        if result.stop_reason == "cancelled":
            return []
        texts = self._suggestions(query, found)
        if texts and settings.prefetch and settings.suggestion_cache:
            self._start_prefetch(query, texts[0])
        return texts

    async def _from_cache_or_background(self, uri: str, text: str, offset: int, number: int) -> list[Suggestion] | None:
        """A cached answer, or the answer of the background job that serves this state (its own,
        or one typed through while it runs); otherwise background work is cancelled."""
        use_cache = self.settings.suggestion_cache
        before, after = text[:offset], text[offset : offset + HEAD]
        cached = self.cache.lookup(uri, before, after) if use_cache else None
        if cached is not None:
            self.stats.record_cache_hit(number)
            return cached
        running = self._background.get(uri)
        if running is not None and use_cache and running.serves(before, after):
            result = await asyncio.shield(running.task)
            if result is None and self._background.get(uri) is not running:
                return []  # superseded by a newer keystroke or request: so is this request
            if result is not None:
                self.stats.record_adopted(number, result, running.kind)
                hit = self.cache.lookup(uri, before, after)
                if hit is not None or running.target == CursorState.of(before, after):
                    return hit or []  # its answer is this request's, even an empty one
            # It failed, or finished with a suggestion that does not cover what was typed: run.
        for other in list(self._background):  # a request must not wait behind guesses, any document's
            self._cancel_background(other)
        return None

    def _cancel_background(self, uri: str) -> None:
        """Stop the document's background job, whether it is still queued or already running."""
        running = self._background.pop(uri, None)
        if running is not None:
            running.task.cancel()
            self._worker.cancel(uri + PREFETCH)

    def speculate(self, query: CompletionQuery) -> None:
        """The user just typed: start the request the editor is about to send after its debounce.

        Only for the in-process engine (a shared server gets only what editors ask for) and only
        when the state is not already answered or being computed.
        """
        settings = self.settings
        if not self.ready or self.remote:
            return
        if not (settings.speculate and settings.suggestion_cache):
            return
        uri, text, offset = query.snapshot.uri, query.snapshot.text, query.offset
        before, after = text[:offset], text[offset : offset + HEAD]
        cached = self.cache.lookup(uri, before, after)
        if cached is not None:  # typed through a suggestion: work on what follows it instead
            self._prefetch_after(query, cached)
            return
        running = self._background.get(uri)
        if running is not None and not running.task.done() and running.serves(before, after):
            return  # already on it, or the user is typing what it is writing
        self._cancel_background(uri)
        self._start_background(query, "speculate")

    def _prefetch_after(self, query: CompletionQuery, suggestions: list[Suggestion]) -> None:
        """While a cached suggestion is on screen, make sure the one after it is on its way.

        A suggestion that itself came from a prefetch gets its successor here, so a user who keeps
        accepting or typing through suggestions never waits at their ends.
        """
        if not (suggestions and self.settings.prefetch and self.settings.suggestion_cache):
            return
        uri = query.snapshot.uri
        text, offset = suggestions[0].apply(query.snapshot.text, query.offset)
        before, after = text[:offset], text[offset : offset + HEAD]
        running = self._background.get(uri)
        if running is not None and running.target == CursorState.of(before, after):
            return
        if self.cache.lookup(uri, before, after) is not None:
            return
        self._cancel_background(uri)
        self._start_prefetch(query, suggestions[0])

    def _start_prefetch(self, query: CompletionQuery, accepted: Suggestion) -> None:
        """Compute the next suggestion as if this one were accepted, while the user reads it."""
        doc = query.snapshot
        text, offset = accepted.apply(doc.text, query.offset)
        # A new snapshot, not dataclasses.replace: that would keep the old text's line starts.
        ahead = replace(query, snapshot=Snapshot(doc.uri, text, doc.version, doc.language_id), offset=offset)
        self._start_background(ahead, "prefetch")

    def _start_background(self, query: CompletionQuery, kind: str) -> None:
        text, offset = query.snapshot.text, query.offset
        target = CursorState.of(text[:offset], text[offset:])
        partial = Partial()
        task = asyncio.ensure_future(self._run_background(query, kind, partial))
        self._background[query.snapshot.uri] = Background(target, task, kind, partial)

    async def _run_background(self, query: CompletionQuery, kind: str, partial: Partial) -> GenerationResult | None:
        """Run a background job and cache its suggestions; None when it did not finish."""
        engine, settings = self._engine, self.settings
        if engine is None:
            return None

        def job(token: CancelToken) -> tuple[GenerationResult, Suggestion | None]:
            result, found = self._run(engine, settings, query, token, partial)
            self.stats.record_background(result)
            return result, found

        try:
            result, found = await self._worker.submit(query.snapshot.uri + PREFETCH, job)
        except (StaleJob, asyncio.CancelledError):
            return None
        except EngineError as err:  # e.g. the remote engine went down: tell the user next time
            self._prefetch_error = err
            return None
        if result.stop_reason == "cancelled":
            return None
        if kind == "prefetch":
            self.stats.prefetched += 1
        else:
            self.stats.speculated += 1
        texts = self._suggestions(query, found)
        if kind == "speculate" and texts and settings.prefetch:
            self._start_prefetch(query, texts[0])  # as complete() does after a model answer
        return result

    def _suggestions(self, query: CompletionQuery, found: Suggestion | None) -> list[Suggestion]:
        """The suggestions for a run's cleaned text, remembered for this position."""
        texts = alternatives(found, query.several)
        text, offset = query.snapshot.text, query.offset
        self.cache.remember(query.snapshot.uri, text[:offset], text[offset : offset + HEAD], texts)
        return texts

    def _run(
        self, engine: Engine, settings: Settings, query: CompletionQuery, token: CancelToken,
        partial: Partial | None = None,
    ) -> tuple[GenerationResult, Suggestion | None]:
        """On the worker thread: build the prompt (tokenizing needs the model), generate, and
        clean the text (the parse gate's work stays off the event loop)."""
        extra: tuple[ExtraChunk, ...] = ()
        if settings.extra_context and query.others and settings.extra_context_tokens:
            extra = extra_chunks(list(query.others), settings.extra_context_tokens, engine.count_tokens)
        uri = query.snapshot.uri
        prepared, anchor = prepare(query.snapshot.text, query.offset, settings, engine.count_tokens,
                                   self._anchors.get(uri), query.path, query.repo, query.snapshot.language_id,
                                   extra)  # fmt: skip
        self._anchors[uri] = anchor
        stop = prepared.should_stop()

        def should_stop(generated: str) -> bool:
            if partial is not None:
                partial.text = prepared.on_screen(generated)
            return stop(generated)

        result = engine.generate(job_for(prepared, should_stop, uri), token)
        if result.stop_reason == "cancelled":
            return result, None
        return result, prepared.finish(result.text, result.stop_reason)

    async def shutdown(self) -> None:
        """Stop running jobs, then close the engine on its own thread (never under a decode)."""
        self._worker.cancel_all()
        engine, self._engine, self.info = self._engine, None, None
        if engine is not None:
            try:
                await asyncio.wait_for(self._worker.call(engine.close), timeout=30)
            except Exception:  # closing on exit must never raise
                log.debug("engine close failed", exc_info=True)
        self._worker.shutdown()


def alternatives(found: Suggestion | None, several: bool) -> list[Suggestion]:
    """The suggestion, plus its first non-blank line as a shorter alternative when asked for several."""
    if found is None:
        return []
    short = found.first_line()
    return [found, short] if several and short != found else [found]
