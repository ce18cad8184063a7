"""A streamed completion: the event formats, and the per-chunk loop that collects the text.

Each backend maps its events to `Chunk`s; `collect` honours ``job.should_stop`` and stops the
stream through its `StreamWatch` when the job is cancelled or out of time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lsp_server.engine.base import EngineError, GenerationJob, GenerationResult
from lsp_server.engine.remote.watch import StreamWatch

# --------------------------------------------------------------------------------------------
# Stream formats


def sse_events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """JSON payloads of a server-sent-events stream (OpenAI, llama-server)."""
    for line in lines:
        if not line or line.startswith(":"):
            continue  # blank separators and keep-alive comments
        field, _, value = line.partition(":")
        value = value.strip()
        if field == "data" and value == "[DONE]":
            return
        if field not in ("data", "error"):
            continue
        payload = _parse_json(value)
        if field == "error" and "error" not in payload:
            payload = {"error": payload}
        yield payload


def ndjson_events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """JSON objects of a newline-delimited JSON stream (Ollama)."""
    for line in lines:
        if line.strip():
            yield _parse_json(line)


def _parse_json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as err:
        raise EngineError(f"the engine sent a stream line that is not JSON: {text[:80]!r}") from err
    return value if isinstance(value, dict) else {"value": value}


def stream_error(event: dict[str, Any]) -> str | None:
    """The message of an error event sent in the middle of a stream, if this is one."""
    err = event.get("error")
    if err is None:
        return None
    if isinstance(err, dict):
        return str(err.get("message") or err)
    return str(err)


# --------------------------------------------------------------------------------------------
# The per-chunk loop


@dataclass(frozen=True)
class Chunk:
    """One streamed piece, already mapped from the backend's event format."""

    text: str = ""
    # Why generation ended ("eos" | "max_tokens" | "stop" | "deadline"), once the server says so.
    stop_reason: str | None = None
    # The last event of the stream: stop reading. (OpenAI sends its usage after the finish reason.)
    final: bool = False
    n_prompt: int | None = None
    n_reused: int | None = None
    n_generated: int | None = None
    t_prompt_s: float | None = None
    t_gen_s: float | None = None


def collect(chunks: Iterator[Chunk], job: GenerationJob, watch: StreamWatch) -> GenerationResult:
    """Accumulate streamed text, stopping at the first chunk after which the job wants no more."""
    start = time.monotonic()
    first: float | None = None
    parts: list[str] = []
    result = GenerationResult(text="", stop_reason="eos")
    count = 0
    finished = False
    for chunk in chunks:
        if chunk.text:
            if first is None:
                first = time.monotonic()
                watch.generating()
            parts.append(chunk.text)
            count += 1
        _merge_stats(result, chunk)
        if chunk.stop_reason is not None:
            result.stop_reason, finished = chunk.stop_reason, True
        if chunk.final:
            break
        if finished:
            continue  # only counts are left to read
        reason = watch.due()
        if (
            reason is None
            and job.should_stop is not None
            and chunk.text
            and job.should_stop("".join(parts))
        ):
            reason = "stop"
        if reason is not None:
            watch.abort(reason)
            result.stop_reason = reason
            break
    else:
        # The stream ended without a final event: either we aborted it or the server just closed.
        if not finished:
            result.stop_reason = watch.reason or result.stop_reason
    result.text = "".join(parts)
    result.n_generated = result.n_generated or count
    end = time.monotonic()
    if not result.t_prompt_s:
        result.t_prompt_s = (first or end) - start
    if not result.t_gen_s:
        result.t_gen_s = end - (first or end)
    return result


def _merge_stats(result: GenerationResult, chunk: Chunk) -> None:
    if chunk.n_prompt is not None:
        result.n_prompt = chunk.n_prompt
    if chunk.n_reused is not None:
        result.n_reused = chunk.n_reused
    if chunk.n_generated is not None:
        result.n_generated = chunk.n_generated
    if chunk.t_prompt_s is not None:
        result.t_prompt_s = chunk.t_prompt_s
    if chunk.t_gen_s is not None:
        result.t_gen_s = chunk.t_gen_s


def generation_limit_ms(job: GenerationJob) -> int | None:
    """The job's time budget in milliseconds (at least 1), for a server-side backstop."""
    return max(1, int(job.time_budget_s * 1000)) if job.time_budget_s is not None else None


def int_or_none(value: Any) -> int | None:
    """A count from an event, or None when the server did not send one."""
    return int(value) if isinstance(value, int | float) else None
