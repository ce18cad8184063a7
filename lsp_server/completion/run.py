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
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from lsp_server.completion.cache import SuggestionCache
from lsp_server.completion.cold import cold_settings, hurried, tokens_within
from lsp_server.completion.query import CompletionQuery
from lsp_server.config import PromptSettings, Settings
from lsp_server.context.definitions import pack
from lsp_server.context.types import ExtraChunk
from lsp_server.context.window import MAX_TOKEN_CHARS, Anchor, extra_chunks
from lsp_server.engine import Engine, GenerationResult
from lsp_server.engine.base import CancelToken, PromptMeter, WarmEngine
from lsp_server.engine.worker import EngineWorker
from lsp_server.pipeline import Prepared, job_for, prepare
from lsp_server.postprocess import Suggestion
from lsp_server.workspace import WorkspaceIndex

log = logging.getLogger(__name__)

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
    def __init__(self, worker: EngineWorker, cache: SuggestionCache, index: WorkspaceIndex | None = None,
                 in_process: Callable[[], bool] = lambda: False) -> None:
        self._worker = worker
        self._cache = cache
        self._index = index
        self._in_process = in_process  # is the loaded engine this process's (it chooses its tokens)?
        self._anchors: dict[str, Anchor] = {}  # the worker thread's alone (module docstring)
        self._cold_anchors: dict[str, Anchor] = {}  # ... and those of cold-start windows (cold.py)
        self._served: set[str] = set()  # ... and the documents a request's own run has served
        self._windowed: set[str] = set()  # ... and those given a cold window since their full one was last warm

    async def run(
        self, engine: Engine, settings: Settings, query: CompletionQuery, key: str, record: Record,
        partial: Partial | None = None, foreground: bool = False,
    ) -> tuple[GenerationResult, list[Suggestion]]:
        """Run ``query`` as the worker's job ``key``; its suggestions ([] when cancelled).
        ``foreground``: a request waits for it, so it is hurried while cold (cold.py).

        Raises StaleJob when a newer job for ``key`` came before this one ran; cancelling the
        awaiting task stops the run at its next token.
        """
        loop = asyncio.get_running_loop()
        started = time.monotonic()

        def job(token: CancelToken) -> tuple[GenerationResult, Suggestion | None]:
            result, found = self._generate(engine, settings, query, token, partial, foreground)
            _log_run(key, result)
            _on_loop(loop, record, result, time.monotonic() - started)
            return result, found

        result, found = await self._worker.submit(key, job)
        if result.stop_reason == "cancelled":
            return result, []
        suggestions = alternatives(found, query.several)
        self._cache.remember(query.uri, *query.around(), suggestions)
        return result, suggestions

    async def warm(self, engine: Engine, settings: Settings, query: CompletionQuery, key: str, record: Record,
                   at_cursor: bool) -> GenerationResult | None:
        """Evaluate the head of the prompt a request at the cursor will have, as the worker's job
        ``key``; None when the engine cannot. Without ``at_cursor`` (a file just opened: the
        cursor is not known yet) the head is the file's start, as far as a prefix window that
        starts at line 0 reaches: it serves a first request anywhere in those lines.

        Raises StaleJob when a newer job for ``key`` came before this one ran.
        """
        if not isinstance(engine, WarmEngine):
            return None
        loop = asyncio.get_running_loop()
        started = time.monotonic()

        def job(token: CancelToken) -> GenerationResult:
            shape = settings.prompt
            offset = query.offset if at_cursor else head_offset(query.snapshot.text, shape.prefix_tokens,
                                                                 engine.count_tokens)
            extra = self._context(shape, query, engine.count_tokens)
            uri = query.uri
            prepared, anchor = prepare(query.snapshot.text, offset, shape, engine.count_tokens, self._anchors.get(uri),
                                       query.path, query.repo, query.snapshot.language_id, extra)  # fmt: skip
            self._anchors[uri] = anchor  # the request's prompt then splits the text where this one did
            result = engine.warm(prepared.prompt, uri, token, at_cursor)
            _log_run(key, result)
            _on_loop(loop, record, result, time.monotonic() - started)
            return result

        return await self._worker.submit(key, job)

    def forget(self, uri: str) -> None:
        """Drop a closed document's anchors (on the worker, after its queued jobs)."""
        self._worker.post(functools.partial(self._forget, uri))

    def _forget(self, uri: str) -> None:
        self._anchors.pop(uri, None)
        self._cold_anchors.pop(uri, None)
        self._served.discard(uri)
        self._windowed.discard(uri)

    def reset(self) -> None:
        """Drop every anchor: a new engine starts cold (on the worker, after the queued jobs)."""
        self._worker.post(self._reset)

    def _reset(self) -> None:
        self._anchors.clear()
        self._cold_anchors.clear()
        self._served.clear()
        self._windowed.clear()

    def _generate(
        self, engine: Engine, settings: Settings, query: CompletionQuery, token: CancelToken,
        partial: Partial | None, foreground: bool = False,
    ) -> tuple[GenerationResult, Suggestion | None]:
        """On the worker thread: the pipeline's stages, once."""
        shape = settings.prompt
        extra = self._context(shape, query, engine.count_tokens)
        uri = query.uri
        prepared, anchor = prepare(query.snapshot.text, query.offset, shape, engine.count_tokens,
                                   self._anchors.get(uri), query.path, query.repo, query.snapshot.language_id,
                                   extra)  # fmt: skip
        self._anchors[uri] = anchor
        cold = ""
        # Without KV reuse every prompt is evaluated whole and no window grows for the next
        # request: a cold window would be every request's, so it is today's run there.
        if foreground and shape.cold_budget_ms > 0 and settings.engine.kv_reuse and isinstance(engine, PromptMeter):
            prepared, cold = self._hurry(engine, engine.count_tokens, shape, query, prepared)
        stop = prepared.should_stop()

        def should_stop(generated: str) -> bool:
            if partial is not None:
                partial.text = prepared.on_screen(generated)
            return stop(generated)

        result, found = run_prepared(engine, prepared, token, should_stop, uri, second_chance=self._in_process())
        return (replace(result, cold=cold) if cold else result), found

    def _hurry(self, engine: PromptMeter, count: Callable[[str], int], shape: PromptSettings, query: CompletionQuery,
               prepared: Prepared) -> tuple[Prepared, str]:
        """A request's run while cold (cold.py): a smaller window where the prompt would not be
        evaluated in the cold budget, its generation cut short there and in the document's first
        run; the window kind ("window", "first" or "" for today's run unchanged). The anchor
        of the full window stays the document's: the request after it gets today's prompt.

        One cold window until the full one is warm again: the two share no prompt start, so a
        request that came while the full window was still growing would evaluate the small one
        over it, and the next the full one over that (typing traces, VS Code-like: 21/31 pauses
        filled against 28/31 without the cold window). It evaluates the rest of the full window."""
        uri = query.uri
        first = uri not in self._served
        self._served.add(uri)
        total, missing = engine.unevaluated(prepared.prompt, uri)
        rate = shape.cold_prompt_rate or engine.prompt_rate()
        small = cold_settings(shape, missing, total, tokens_within(rate, shape.cold_budget_ms))
        if small is None:
            self._windowed.discard(uri)
        elif uri not in self._windowed:
            self._windowed.add(uri)
            prepared, self._cold_anchors[uri] = prepare(
                query.snapshot.text, query.offset, small, count, self._cold_anchors.get(uri),
                query.path, query.repo, query.snapshot.language_id)  # fmt: skip
            return hurried(prepared, shape.cold_budget_ms), "window"
        return (hurried(prepared, shape.cold_budget_ms), "first") if first else (prepared, "")

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


def run_prepared(
    engine: Engine, prepared: Prepared, token: CancelToken, should_stop: Callable[[str], bool] | None = None,
    session: str = "", second_chance: bool = False,
) -> tuple[GenerationResult, Suggestion | None]:
    """Generate and finish; with ``second_chance`` (engines that choose their own tokens, which
    keep to `GenerationJob.avoid`), where post-processing refuses the answer, once more with its
    first word barred (`Prepared.second_chance`): the model's next choice beats no answer."""
    result = engine.generate(job_for(prepared, should_stop, session), token)
    if result.stop_reason == "cancelled":
        return result, None
    found = prepared.finish(result.text, result.stop_reason)
    again = prepared.second_chance(result.text) if found is None and second_chance else None
    if again is None:
        return result, found
    retry = engine.generate(job_for(again, should_stop, session), token)
    result = replace(retry, n_prompt=result.n_prompt, n_reused=result.n_reused, t_prompt_s=result.t_prompt_s + retry.t_prompt_s,
                     n_generated=result.n_generated + retry.n_generated, t_gen_s=result.t_gen_s + retry.t_gen_s)  # fmt: skip
    if result.stop_reason == "cancelled":
        return result, None
    return result, again.finish(retry.text, retry.stop_reason)


def head_offset(text: str, budget: int, count: Callable[[str], int]) -> int:
    """The start of the first line past the file's head that a prefix window of ``budget``
    tokens starting at line 0 holds (bounded in characters, like the windows)."""
    end = used = 0
    limit = min(len(text), budget * MAX_TOKEN_CHARS)
    while end < limit:
        nl = text.find("\n", end, limit)
        if nl < 0:
            break
        used += count(text[end : nl + 1])
        if used > budget:
            break
        end = nl + 1
    return end


def alternatives(found: Suggestion | None, several: bool) -> list[Suggestion]:
    """The suggestion, plus its first non-blank line as a shorter alternative when asked for several."""
    if found is None:
        return []
    short = found.first_line()
    return [found, short] if several and short != found else [found]


def _log_run(key: str, result: GenerationResult) -> None:
    """Where a run's prompt time went (debug): the evidence for KV-cache and cold-window work."""
    log.debug("run %s: %s%s, prompt %d tokens (%d reused), %d generated", key, result.stop_reason,
              f", cold {result.cold}" if result.cold else "", result.n_prompt, result.n_reused, result.n_generated)


def _on_loop(loop: asyncio.AbstractEventLoop, record: Record, result: GenerationResult, seconds: float) -> None:
    """Hand the counts to the event loop; a loop already closed (the server exited) has no stats."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(record, result, seconds)
