"""`CompletionService`, the completion feature's one entry point. No pygls here.

A request walks the stages once, in order (`complete`):

1. memory (`cache.py`): the same state, or one the user typed through, answered at once;
2. background work (`background.py`): the prefetch or speculation that serves the state;
3. a model run (`run.py`): `pipeline.prepare` -> `Engine.generate` -> `Prepared.finish` on the
   worker thread; its suggestions are remembered and the next one is prefetched.

Thread ownership: every method here runs on the event loop, and only the event loop changes the
cache, the background jobs, the stats and the engine's fields. The worker thread (the engine
host's, shared with other features) runs the engine and owns the prompt anchors (run.py); it
hands back results through futures.
"""

from __future__ import annotations

import asyncio
import functools
import time
from dataclasses import dataclass, field

from lsp_server.completion.background import BackgroundWork
from lsp_server.completion.cache import SuggestionCache
from lsp_server.completion.query import CompletionQuery, CursorState
from lsp_server.completion.run import Runner
from lsp_server.completion.stats import Stats
from lsp_server.config import Settings
from lsp_server.engine import Engine
from lsp_server.engine.host import EngineHost
from lsp_server.engine.worker import StaleJob
from lsp_server.postprocess import Suggestion
from lsp_server.workspace import WorkspaceIndex


class CompletionService:
    """Completion on ``host``'s engine, which it shares with other features (it loads and closes
    it for none of them)."""

    def __init__(self, host: EngineHost, index: WorkspaceIndex | None = None) -> None:
        self._host = host
        self._worker = host.worker
        self._cache = SuggestionCache()
        self._stats = Stats()
        self._runner = Runner(self._worker, self._cache, index, in_process=lambda: not host.remote)
        self._background = BackgroundWork(self._host, self._runner, self._worker, self._cache, self._stats)
        self._started = time.monotonic()
        self._running: dict[str, _SharedRun] = {}  # the model run of each document's latest request
        host.on_load(self._runner.reset)  # a new engine starts cold

    # -- state -----------------------------------------------------------------------------------

    @property
    def host(self) -> EngineHost:
        """The shared engine host this service completes on."""
        return self._host

    @property
    def stats(self) -> Stats:
        """The live counters; read them, the service writes them."""
        return self._stats

    def stats_json(self) -> dict[str, object]:
        """The counters for ``fimLsp/stats``, with the jobs dropped before they ran."""
        data = self._stats.as_json()
        data["dropped"] = self._worker.dropped
        return data

    def shutdown(self) -> None:
        """Stop the background work; the host stops the jobs on its thread and the engine."""
        self._background.cancel_all()

    # -- documents -------------------------------------------------------------------------------

    def cancel(self, uri: str) -> None:
        """A newer version of the document makes its running request stale. Background work goes
        on: it may serve the new state."""
        self._worker.cancel(uri)

    def forget(self, uri: str) -> None:
        """The document was closed: drop everything kept for it, stop its work."""
        self._runner.forget(uri)
        self._cache.forget(uri)
        self._worker.cancel(uri)
        self._background.cancel(uri)

    # -- completion ------------------------------------------------------------------------------

    async def complete(self, query: CompletionQuery) -> list[Suggestion]:
        """Suggestions for the cursor, best first; [] when there is nothing worth showing."""
        engine, settings = self._host.engine, self._host.settings
        if engine is None:
            return []
        request = self._stats.request()
        if (err := self._background.take_error()) is not None:
            raise err
        found = await self._remembered(query, request) if settings.serving.suggestion_cache else None
        if found is not None:
            self._background.prefetch_after(query, found)
            return found
        self._background.cancel_all()  # a request must not wait behind guesses, any document's
        return await self._generate(engine, settings, query, request)

    def speculate(self, query: CompletionQuery) -> None:
        """The user just typed: start the request the editor is about to send after its debounce.
        Only for the in-process engine: a shared server gets only what editors ask for."""
        if self._host.ready and not self._host.remote:
            self._background.speculate(query)

    def prewarm(self, query: CompletionQuery, at_cursor: bool) -> None:
        """A document was opened (``at_cursor`` False: the cursor is not known) or first changed
        at ``query``'s cursor: evaluate its next prompt's head in the background, so the first
        request finds it in the KV cache. In-process engine only; a request cancels it."""
        if self._host.ready and not self._host.remote:
            self._background.prewarm(query, at_cursor)

    async def _remembered(self, query: CompletionQuery, request: int) -> list[Suggestion] | None:
        """The answer from memory, or from the background job that serves this state."""
        found = self._cache.lookup(query.uri, *query.around())
        if found is None:
            return await self._background.adopt(query, request)
        self._stats.record_cache_hit(request)
        return found

    async def _generate(self, engine: Engine, settings: Settings, query: CompletionQuery,
                        request: int) -> list[Suggestion]:
        """A model run for the request, shared with any request for the same state while it runs:
        an editor that asks for the menu and for ghost text at one cursor gets one suggestion
        for both, not a second run that cancels the first (the worker keeps one job per
        document)."""
        state = (CursorState.of(*query.around()), query.several)
        shared = self._running.get(query.uri)
        if shared is None or shared.state != state or shared.run.done():
            run = asyncio.ensure_future(self._model_run(engine, settings, query, request))
            shared = self._running[query.uri] = _SharedRun(state, run)
            run.add_done_callback(functools.partial(self._ran, query.uri, shared))
        shared.waiters += 1
        try:
            return list(await asyncio.shield(shared.run))
        except asyncio.CancelledError:  # $/cancelRequest: the run stops once nobody waits for it
            shared.waiters -= 1
            if shared.waiters == 0:
                shared.run.cancel()
            raise

    def _ran(self, uri: str, run: _SharedRun, _done: object) -> None:
        if self._running.get(uri) is run:
            del self._running[uri]

    async def _model_run(self, engine: Engine, settings: Settings, query: CompletionQuery,
                         request: int) -> list[Suggestion]:
        """One run of the pipeline on the worker; [] when it was cancelled or went stale."""
        record = functools.partial(self._stats.record, request)
        try:
            # Cancelled, the worker stops at its next token.
            result, found = await self._runner.run(engine, settings, query, query.uri, record, foreground=True)
        except (StaleJob, asyncio.CancelledError):  # a newer request for the document, or nobody waits
            return []
        if result.stop_reason == "cancelled":
            return []
        self._stats.record_answer(time.monotonic() - self._started)
        if found and settings.serving.prefetch and settings.serving.suggestion_cache:
            self._background.prefetch(query, found[0])  # on the full window: it grows it too
        elif result.cold == "window":  # grow the full window for the requests that follow
            self._background.prewarm(query, at_cursor=True, grow=True)
        return found


@dataclass
class _SharedRun:
    """A request's model run, and how many requests for its state wait for it."""

    state: tuple[CursorState, bool]  # the cursor, and whether alternatives were asked for
    run: asyncio.Future[list[Suggestion]]
    waiters: int = field(default=0)
