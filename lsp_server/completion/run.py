"""One model run for a query: the pure pipeline, walked once on the worker thread.

`pipeline.prepare` -> `Engine.generate` (the cut rules stop it early) -> `Prepared.finish`, all
on the worker: tokenizing needs the model, and the parse gate's work stays off the event loop.
Back on the loop, the suggestions are remembered for the cursor they answer.

Thread ownership: `Runner._anchors` (where each document's last prompt window started, which
keeps the KV cache warm) is read and written on the worker thread only; the event loop changes
it by posting to the worker (`forget`, `reset`), which also orders those changes after the jobs
already queued. A run's counts reach the stats through the event loop (`record`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass

from lsp_server.completion.cache import SuggestionCache
from lsp_server.completion.query import CompletionQuery
from lsp_server.config import PromptSettings, Settings
from lsp_server.context.definitions import pack
from lsp_server.context.types import ExtraChunk
from lsp_server.context.window import Anchor, extra_chunks
from lsp_server.engine import Engine, GenerationResult
from lsp_server.engine.base import CancelToken
from lsp_server.engine.worker import EngineWorker
from lsp_server.pipeline import job_for, prepare
from lsp_server.postprocess import Suggestion
from lsp_server.workspace import WorkspaceIndex

# Called on the event loop with a run's result and its time on the worker (seconds), whether
# or not anyone still awaits it.
Record = Callable[[GenerationResult, float], None]
# How long a run waits for the workspace index to summarize modules its buffer imports (only
# the first run after a file opens, when `WorkspaceIndex.warm` has not finished).
INDEX_WAIT_S = 0.25


@dataclass
class Partial:
    """The text a running job has generated so far, as it would show at the cursor (written on
    the worker, read on the loop: for typing through a job that is still running)."""

    text: str = ""


class Runner:
    def __init__(self, worker: EngineWorker, cache: SuggestionCache, index: WorkspaceIndex | None = None) -> None:
        self._worker = worker
        self._cache = cache
        self._index = index
        self._anchors: dict[str, Anchor] = {}  # the worker thread's alone (module docstring)

    async def run(
        self, engine: Engine, settings: Settings, query: CompletionQuery, key: str, record: Record,
        partial: Partial | None = None,
    ) -> tuple[GenerationResult, list[Suggestion]]:
        """Run ``query`` as the worker's job ``key``; its suggestions ([] when cancelled).

        Raises StaleJob when a newer job for ``key`` came before this one ran; cancelling the
        awaiting task stops the run at its next token.
        """
        loop = asyncio.get_running_loop()
        started = time.monotonic()

        def job(token: CancelToken) -> tuple[GenerationResult, Suggestion | None]:
            result, found = self._generate(engine, settings, query, token, partial)
            _on_loop(loop, record, result, time.monotonic() - started)
            return result, found

        result, found = await self._worker.submit(key, job)
        if result.stop_reason == "cancelled":
            return result, []
        suggestions = alternatives(found, query.several)
        self._cache.remember(query.uri, *query.around(), suggestions)
        return result, suggestions

    def forget(self, uri: str) -> None:
        """Drop a closed document's anchor (on the worker, after its queued jobs)."""
        self._worker.post(functools.partial(self._anchors.pop, uri, None))

    def reset(self) -> None:
        """Drop every anchor: a new engine starts cold (on the worker, after the queued jobs)."""
        self._worker.post(self._anchors.clear)

    def _generate(
        self, engine: Engine, settings: Settings, query: CompletionQuery, token: CancelToken,
        partial: Partial | None,
    ) -> tuple[GenerationResult, Suggestion | None]:
        """On the worker thread: the pipeline's stages, once."""
        shape = settings.prompt
        extra = self._context(shape, query, engine.count_tokens)
        uri = query.uri
        prepared, anchor = prepare(query.snapshot.text, query.offset, shape, engine.count_tokens,
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

    def _context(self, shape: PromptSettings, query: CompletionQuery, count: Callable[[str], int]) -> tuple[ExtraChunk, ...]:
        """Repository context, the sources that change least often first (the prompt puts it
        before the file's own text, so typing re-evaluates none of it): the definitions the
        buffer imports from the workspace, then the heads of other open buffers."""
        chunks: tuple[ExtraChunk, ...] = ()
        if shape.repo_context and shape.repo_context_tokens and self._index is not None and query.file:
            found = self._index.definitions(query.snapshot.text, query.file, INDEX_WAIT_S)
            chunks += pack(found, shape.repo_context_tokens, count)
        if shape.extra_context and query.others and shape.extra_context_tokens:
            chunks += extra_chunks(list(query.others), shape.extra_context_tokens, count)
        return chunks


def alternatives(found: Suggestion | None, several: bool) -> list[Suggestion]:
    """The suggestion, plus its first non-blank line as a shorter alternative when asked for several."""
    if found is None:
        return []
    short = found.first_line()
    return [found, short] if several and short != found else [found]


def _on_loop(loop: asyncio.AbstractEventLoop, record: Record, result: GenerationResult, seconds: float) -> None:
    """Hand the counts to the event loop; a loop already closed (the server exited) has no stats."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(record, result, seconds)
