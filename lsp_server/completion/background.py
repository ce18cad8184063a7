"""Background work: runs nobody asked for yet, whose answers wait in the cache.

- *prefetch*: the state after accepting the suggestion on screen, computed while the user
  reads it;
- *speculation*: the request the editor is about to send after its debounce, started by the
  keystroke itself;
- *prewarm*: no run at all, only the head of the prompt the first request in a document will
  have, evaluated into the KV cache when the document is opened or first changed.

At most one job per document. A request adopts the job that serves its state (its own, or one
typed through while the job runs); a request for any other state cancels them all, so it never
waits behind a guess. Event loop only, except `Partial.text` (see run.py).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from lsp_server.completion.cache import SuggestionCache
from lsp_server.completion.query import CompletionQuery, CursorState
from lsp_server.completion.run import Partial, Runner
from lsp_server.completion.stats import Stats
from lsp_server.engine import EngineError, GenerationResult
from lsp_server.engine.host import EngineHost
from lsp_server.engine.worker import EngineWorker, StaleJob
from lsp_server.postprocess import Suggestion

log = logging.getLogger(__name__)

PREFETCH = "#prefetch"  # worker key suffix of background jobs: a didChange does not cancel them
WARMS = ("prewarm", "grow")  # the kinds that only evaluate a prompt's head


@dataclass
class Background:
    """A background job and the cursor state it completes."""

    target: CursorState
    task: asyncio.Future[GenerationResult | None]
    # "prefetch" (the accepted suggestion), "speculate" (what the user just typed), "prewarm",
    # "grow" (a prewarm of the full window after a cold-start answer)
    kind: str
    partial: Partial = field(default_factory=Partial)

    def serves(self, before: str, after: str) -> bool:
        """True for its own state, and while running, for states typed through what it writes."""
        if self.kind in WARMS:  # it writes nothing: a request goes on from what it evaluated
            return False
        if self.target == CursorState.of(before, after):
            return True
        # Something must be left to show: the job will write the rest.
        return not self.task.done() and bool(self.target.typed_through(before, after, self.partial.text))


class BackgroundWork:
    def __init__(self, host: EngineHost, runner: Runner, worker: EngineWorker, cache: SuggestionCache,
                 stats: Stats) -> None:
        self._host, self._runner, self._worker = host, runner, worker
        self._cache, self._stats = cache, stats
        self._jobs: dict[str, Background] = {}
        self._error: EngineError | None = None

    def take_error(self) -> EngineError | None:
        """Why a background run failed since the last call (e.g. the remote engine went down):
        the next request tells the user."""
        err, self._error = self._error, None
        return err

    async def adopt(self, query: CompletionQuery, request: int) -> list[Suggestion] | None:
        """The answer of the document's job when it serves this state, once it is done; None
        when there is none, or it failed or wrote something that does not cover the state."""
        uri = query.uri
        before, after = query.around()
        running = self._jobs.get(uri)
        if running is None or not running.serves(before, after):
            return None
        result = await asyncio.shield(running.task)
        if result is None:  # it did not finish: superseded (so is this request), or it failed (run)
            return [] if self._jobs.get(uri) is not running else None
        self._stats.record_adopted(request, result, running.kind)
        hit = self._cache.lookup(uri, before, after)
        if hit is not None or running.target == CursorState.of(before, after):
            return hit or []  # its answer is this request's, even an empty one
        return None

    def speculate(self, query: CompletionQuery) -> None:
        """The user just typed: start the request the editor is about to send, unless the state
        is already answered or being computed."""
        serving = self._host.settings.serving
        if not (serving.speculate and serving.suggestion_cache):
            return
        uri = query.uri
        before, after = query.around()
        cached = self._cache.lookup(uri, before, after)
        if cached is not None:  # typed through a suggestion: work on what follows it instead
            self.prefetch_after(query, cached)
            return
        running = self._jobs.get(uri)
        if running is not None and not running.task.done() and running.serves(before, after):
            return  # already on it, or the user is typing what it is writing
        self.cancel(uri)
        self._start(query, "speculate")

    def prefetch_after(self, query: CompletionQuery, suggestions: list[Suggestion]) -> None:
        """While a suggestion from memory is on screen, make sure the one after it is on its way.

        A suggestion that itself came from a prefetch gets its successor here, so a user who keeps
        accepting or typing through suggestions never waits at their ends.
        """
        serving = self._host.settings.serving
        if not (suggestions and serving.prefetch and serving.suggestion_cache):
            return
        ahead = query.accepting(suggestions[0])
        before, after = ahead.around()
        running = self._jobs.get(query.uri)
        if running is not None and running.target == CursorState.of(before, after):
            return
        if self._cache.lookup(query.uri, before, after) is not None:
            return
        self.cancel(query.uri)
        self._start(ahead, "prefetch")

    def prefetch(self, query: CompletionQuery, accepted: Suggestion) -> None:
        """Compute the next suggestion as if ``accepted`` were, while the user reads it."""
        self._start(query.accepting(accepted), "prefetch")

    def prewarm(self, query: CompletionQuery, at_cursor: bool, grow: bool = False) -> None:
        """Evaluate the head of the document's next prompt while the user reads or types (see
        `Runner.warm`). One document at a time: the KV cache holds one prompt, so the latest
        document wins; a document's own prefetch or speculation warms it anyway. ``grow``: the
        full window after a cold-start one (cold.py), which is part of that and not of the
        ``prewarm`` setting."""
        if not (grow or self._host.settings.serving.prewarm):
            return
        running = self._jobs.get(query.uri)
        if (running is not None and running.kind not in WARMS and not running.task.done()
                and running.task is not asyncio.current_task()):  # a speculation grows after itself
            return
        for uri in [u for u, job in self._jobs.items() if job.kind in WARMS]:
            self.cancel(uri)
        kind = "grow" if grow else "prewarm"
        task = asyncio.ensure_future(self._warm(query, at_cursor, kind))
        self._jobs[query.uri] = Background(CursorState.of(*query.around()), task, kind)

    async def _warm(self, query: CompletionQuery, at_cursor: bool, kind: str) -> GenerationResult | None:
        engine, settings = self._host.engine, self._host.settings
        if engine is None:
            return None

        try:
            result = await self._runner.warm(engine, settings, query, query.uri + PREFETCH, self._record, at_cursor)
        except (StaleJob, asyncio.CancelledError):
            return None
        except EngineError as err:  # the request that follows meets it again and tells the user
            log.debug("prewarm of %s failed: %s", query.uri, err)
            return None
        if result is not None and result.stop_reason == "warm":
            self._stats.record_finished(kind)
        return result

    def _record(self, result: GenerationResult, _seconds: float) -> None:
        """A background run's counts (on the loop): not a request's."""
        self._stats.record_background(result)

    def cancel(self, uri: str) -> None:
        """Stop the document's job, whether it is still queued or already running."""
        running = self._jobs.pop(uri, None)
        if running is not None:
            running.task.cancel()
            self._worker.cancel(uri + PREFETCH)

    def cancel_all(self) -> None:
        for uri in list(self._jobs):
            self.cancel(uri)

    def _start(self, query: CompletionQuery, kind: str) -> None:
        partial = Partial()
        task = asyncio.ensure_future(self._run(query, kind, partial))
        self._jobs[query.uri] = Background(CursorState.of(*query.around()), task, kind, partial)

    async def _run(self, query: CompletionQuery, kind: str, partial: Partial) -> GenerationResult | None:
        """Run a background job (its suggestions go to the cache); None when it did not finish."""
        engine, settings = self._host.engine, self._host.settings
        if engine is None:
            return None

        try:
            # A speculation is the request the editor is about to send: hurried while cold as
            # that request would be (cold.py), or the request that adopts it waits for it all.
            result, found = await self._runner.run(engine, settings, query, query.uri + PREFETCH, self._record, partial,
                                                   foreground=kind == "speculate")  # fmt: skip
        except (StaleJob, asyncio.CancelledError):
            return None
        except EngineError as err:
            self._error = err
            return None
        if result.stop_reason == "cancelled":
            return None
        self._stats.record_finished(kind, result.cold)
        if kind == "speculate" and found and settings.serving.prefetch:
            self.prefetch(query, found[0])  # as a request does after a model answer
        elif result.cold == "window":  # as a request does after a cold-start answer
            self.prewarm(query, at_cursor=True, grow=True)
        return result
