"""HTTP plumbing shared by the remote engines (llama-server, OpenAI-compatible, Ollama).

One place owns what every remote backend needs, so the three engine modules only map our
`GenerationJob` to a request body and a streamed event back to text:

- `HttpTransport`: an httpx client with timeouts, a bounded retry on connect errors, and
  streaming that a `StreamWatch` can abort from another thread. Closing the socket is what
  makes the inference server stop generating (llama-server, vLLM and Ollama all cancel a request
  whose client went away), and it also unblocks a read stuck waiting for the first token.
- `ProblemGate`: turns a burst of failures (one per keystroke while the engine is down) into a
  single `EngineError`, then quiet empty results, then one log line when the engine is back.
- `collect`: the per-chunk loop that honours ``job.should_stop``, ``job.deadline`` and the
  `CancelToken`.
- `RemoteEngine`: the `Engine` skeleton the three backends fill in.
- `check`: the rows ``fim-lsp doctor`` prints for a remote backend.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from lsp_server.config import Settings
from lsp_server.context.templates import (
    TEMPLATES,
    FimTemplate,
    ModelHints,
    NoFimSupport,
    choose_template,
)
from lsp_server.engine.base import (
    CancelToken,
    EngineError,
    EngineInfo,
    GenerationJob,
    GenerationResult,
    ProgressCallback,
)

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 3.0
# Between two streamed chunks; prompt processing of a long prompt on a busy shared server can take
# a while, and the job deadline (enforced by StreamWatch) is the real limit.
READ_TIMEOUT_S = 30.0
CONNECT_RETRIES = 2
RETRY_BACKOFF_S = 0.1
WATCH_POLL_S = 0.01


class EngineDown(EngineError):
    """The engine cannot be reached or dropped the connection: worth retrying later."""


# --------------------------------------------------------------------------------------------
# Reporting a problem once


class ProblemGate:
    """Report each failure once, stay quiet while it lasts, and log when the engine is back.

    While the engine is down a request is still let through now and then (exponential backoff up
    to ``max_probe_s``) so that recovery is noticed without a connect attempt per keystroke.
    """

    def __init__(self, label: str, first_probe_s: float = 0.5, max_probe_s: float = 5.0) -> None:
        self._label = label
        self._lock = threading.Lock()
        self._problem: str | None = None  # the key of the problem being reported, if any
        self._message = ""
        self._first_probe_s = first_probe_s
        self._max_probe_s = max_probe_s
        self._probe_s = first_probe_s
        self._next_try = 0.0

    def may_try(self) -> bool:
        """False while a known problem lasts and the next probe is not due yet."""
        with self._lock:
            return self._problem is None or time.monotonic() >= self._next_try

    def failed(self, err: EngineError) -> None:
        """Raise ``err`` if it is news; otherwise log it at debug level and return."""
        with self._lock:
            down = isinstance(err, EngineDown)
            self._next_try = time.monotonic() + (self._probe_s if down else 0.0)
            if down:
                self._probe_s = min(self._probe_s * 2, self._max_probe_s)
            if self._problem == _problem_key(err):
                log.debug("%s: still failing: %s", self._label, err)
                return
            self._problem, self._message = _problem_key(err), str(err)
        log.info("%s: %s (reported once until it works again)", self._label, err)
        raise err

    def mark(self, err: EngineError) -> None:
        """Record a problem the caller reports itself (``load`` raises every time)."""
        with self._lock:
            self._problem, self._message = _problem_key(err), str(err)
            self._next_try = time.monotonic() + (
                self._probe_s if isinstance(err, EngineDown) else 0
            )

    def succeeded(self) -> None:
        with self._lock:
            was, self._problem = self._problem, None
            self._probe_s = self._first_probe_s
        if was is not None:
            log.info("%s: working again (was: %s)", self._label, self._message)


def _problem_key(err: EngineError) -> str:
    """Every way of being down is one problem: refused, timed out and dropped read the same."""
    return "down" if isinstance(err, EngineDown) else str(err)


# --------------------------------------------------------------------------------------------
# Aborting a blocked stream


class StreamWatch:
    """Closes a streaming response's socket when the job is cancelled or out of time.

    A per-chunk check alone cannot stop a read that is blocked waiting for the server (prompt
    processing on a busy engine); shutting the socket down wakes that read at once, and the server
    sees the client gone and frees its slot.

    Time runs out at ``deadline``, or ``budget_s`` after the first generated text (the job's
    ``time_budget_s``: a cold prompt still gets its first line).
    """

    def __init__(
        self, cancel: CancelToken, deadline: float | None, budget_s: float | None = None
    ) -> None:
        self._cancel = cancel
        self._deadline = deadline
        self._budget_s = budget_s
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self.reason: str | None = None  # "cancelled" | "deadline" once it fired

    def generating(self) -> None:
        """The first text arrived: the generation time budget starts now."""
        if self._budget_s is not None:
            end = time.monotonic() + self._budget_s
            self._deadline = end if self._deadline is None else min(self._deadline, end)
            self._budget_s = None

    def due(self) -> str | None:
        """Why the stream must stop now, if it must."""
        if self._cancel.cancelled:
            return "cancelled"
        deadline = self._deadline
        if deadline is not None and time.monotonic() >= deadline:
            return "deadline"
        return None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="fim-lsp-stream-watch", daemon=True)
        self._thread.start()

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore's trace hook: keep the socket of the connection this request opens.

        llama-server sends no response headers until the prompt is processed, so the socket must
        be known before a response exists for a cancel during prompt processing to reach it.
        """
        if event != "connection.connect_tcp.complete":
            return
        stream = info.get("return_value")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            with self._lock:
                self._sock = sock
                if self.reason is not None:  # aborted while connecting
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)

    def _run(self) -> None:
        while not self._done.wait(WATCH_POLL_S):
            reason = self.due()
            if reason is not None:
                self.abort(reason)
                return

    def abort(self, reason: str) -> None:
        with self._lock:
            if self._done.is_set() or self.reason is not None:
                return
            self.reason = reason
            if self._sock is not None:
                with contextlib.suppress(OSError):
                    self._sock.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        """End the watch; from here on the socket is left alone (its fd may be reused)."""
        with self._lock:
            self._done.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()


# --------------------------------------------------------------------------------------------
# The HTTP client


def _error_text(response: httpx.Response) -> str:
    """The server's own error message: llama-server, OpenAI and Ollama all send JSON errors."""
    try:
        body = response.json()
    except (ValueError, httpx.ResponseNotRead):
        return response.text[:200].strip() if response.is_stream_consumed else ""
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            return str(err.get("message") or err.get("type") or err)
        return str(err)
    return str(body)[:200]


class HttpTransport:
    """A sync httpx client bound to one engine's base URL, with our error mapping and retries."""

    def __init__(
        self,
        base_url: str,
        label: str,
        headers: dict[str, str] | None = None,
        down_hint: str = "",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.label = label
        self._down_hint = down_hint
        self._client = self._new_client(headers, keepalive=True)
        # Generation streams get a connection each: its socket is then known from the moment it
        # opens (see StreamWatch.trace), and an aborted stream never leaves a pooled connection.
        self._stream_client = self._new_client(headers, keepalive=False)
        self._retry = True  # no retries while the engine is known to be down

    def _new_client(self, headers: dict[str, str] | None, keepalive: bool) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            headers=headers or {},
            timeout=httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
            limits=httpx.Limits(max_keepalive_connections=None if keepalive else 0),
            # Don't pick up proxies from the environment for what is usually a LAN/localhost host.
            trust_env=False,
        )

    def set_retry(self, enabled: bool) -> None:
        self._retry = enabled

    def close(self) -> None:
        self._client.close()
        self._stream_client.close()

    def get_json(self, path: str, timeout: float | None = None) -> Any:
        response = self._send("GET", path, None, timeout)
        return self._json(response)

    def post_json(self, path: str, body: dict[str, Any], timeout: float | None = None) -> Any:
        response = self._send("POST", path, body, timeout)
        return self._json(response)

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as err:
            raise EngineError(
                f"{self.label} at {self.base_url} sent a reply that is not JSON",
                "Check the URL and the backend setting.",
            ) from err

    def _send(
        self, method: str, path: str, body: dict[str, Any] | None, timeout: float | None
    ) -> httpx.Response:
        kwargs: dict[str, Any] = {"json": body} if body is not None else {}
        if timeout is not None:
            kwargs["timeout"] = httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT_S))
        response = self._with_retry(
            lambda: self._client.request(method, path, **kwargs), None, None
        )
        self.raise_for_status(response)
        return response

    @contextlib.contextmanager
    def stream(
        self,
        path: str,
        body: dict[str, Any],
        cancel: CancelToken,
        deadline: float | None,
        budget_s: float | None = None,
    ) -> Iterator[tuple[Iterator[str], StreamWatch]]:
        """POST ``body`` and yield the response lines and the watch that may abort them.

        Leaving the block closes the response (and with it the connection when unread), which is
        how an early stop reaches the server.
        """
        watch = StreamWatch(cancel, deadline, budget_s)
        request = self._stream_client.build_request(
            "POST", path, json=body, extensions={"trace": watch.trace}
        )
        watch.start()
        try:
            try:
                response = self._with_retry(
                    lambda: self._stream_client.send(request, stream=True), cancel, deadline
                )
            except EngineDown:
                if watch.reason is None:
                    raise
                yield iter(()), watch  # we closed it while the server processed the prompt
                return
            try:
                if response.status_code >= 400:
                    response.read()
                    self.raise_for_status(response)
                yield self._lines(response, watch), watch
            finally:
                watch.stop()
                response.close()
        finally:
            watch.stop()

    def _lines(self, response: httpx.Response, watch: StreamWatch) -> Iterator[str]:
        try:
            yield from response.iter_lines()
        except (httpx.TransportError, httpx.StreamError) as err:
            if watch.reason is not None:
                return  # we closed it ourselves
            raise self._down(err) from err

    def _with_retry(
        self, send: Callable[[], httpx.Response], cancel: CancelToken | None, deadline: float | None
    ) -> httpx.Response:
        """Retry only when the request never reached the server (connect errors), with backoff."""
        attempts = 1 + (CONNECT_RETRIES if self._retry else 0)
        for attempt in range(attempts):
            try:
                return send()
            except (httpx.ConnectError, httpx.ConnectTimeout) as err:
                delay = RETRY_BACKOFF_S * (3**attempt)
                out_of_time = deadline is not None and time.monotonic() + delay >= deadline
                cancelled = cancel is not None and cancel.cancelled
                if attempt + 1 == attempts or out_of_time or cancelled:
                    raise self._down(err) from err
                log.debug("%s: connect failed (%s); retrying in %.2fs", self.label, err, delay)
                time.sleep(delay)
            except httpx.TransportError as err:
                raise self._down(err) from err
        raise AssertionError("unreachable")  # pragma: no cover

    def _down(self, err: Exception) -> EngineDown:
        if isinstance(err, httpx.ConnectError | httpx.ConnectTimeout):
            what = "cannot be reached"
        elif isinstance(err, httpx.TimeoutException):
            what = "did not answer in time"
        else:
            what = "dropped the connection"
        return EngineDown(
            f"{self.label} at {self.base_url} {what} ({type(err).__name__}).", self._down_hint
        )

    def raise_for_status(self, response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        detail = _error_text(response)
        status = response.status_code
        if status in (401, 403):
            raise EngineError(
                f"{self.label} at {self.base_url} refused the request ({status}: {detail}).",
                "Check the API key (the environment variable named by the apiKeyEnv setting).",
            )
        if status == 503:
            # llama-server answers 503 while it loads the model; Ollama and vLLM when overloaded.
            raise EngineDown(
                f"{self.label} at {self.base_url} is not ready ({detail}).", self._down_hint
            )
        raise EngineError(f"{self.label} at {self.base_url} answered {status}: {detail}", "")


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
    """The job's time limit in milliseconds (at least 1), for a server-side backstop."""
    limits = []
    if job.deadline is not None:
        limits.append(job.deadline - time.monotonic())
    if job.time_budget_s is not None:
        limits.append(job.time_budget_s)
    return max(1, int(min(limits) * 1000)) if limits else None


# --------------------------------------------------------------------------------------------
# FIM templates for raw-prompt backends


def resolve_template(setting: str, hints: ModelHints) -> FimTemplate:
    """`choose_template`, with errors that tell a remote engine's user what to set."""
    try:
        return choose_template(setting, hints)
    except NoFimSupport as err:
        names = ", ".join(sorted(TEMPLATES))
        raise EngineError(str(err), f"Set fimTemplate to one of: {names}.") from err
    except ValueError as err:
        raise EngineError(str(err), "Fix the fimTemplate setting.") from err


# --------------------------------------------------------------------------------------------
# The engine skeleton


class SlotMemory:
    """Which server slot last served each session (document), bounded in size.

    Sending a document's requests to the slot that holds its KV cache keeps prompt reuse when a
    new request arrives before the server has noticed that the previous one was cancelled.
    """

    def __init__(self, size: int = 256) -> None:
        self._slots: OrderedDict[str, int] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, session: str) -> int:
        with self._lock:
            slot = self._slots.get(session, -1)
            if session in self._slots:
                self._slots.move_to_end(session)
            return slot

    def put(self, session: str, slot: int) -> None:
        if not session or slot < 0:
            return
        with self._lock:
            self._slots[session] = slot
            self._slots.move_to_end(session)
            while len(self._slots) > self._size:
                self._slots.popitem(last=False)

    def forget(self) -> None:
        with self._lock:
            self._slots.clear()


class RemoteEngine:
    """What the remote engines share: connect lazily, report failures once, stream a job.

    Subclasses set ``label``/``default_url``/``down_hint`` and implement `_connect` (learn the
    model and how to prompt it) and `_generate` (one streamed request).
    """

    label = "remote engine"
    default_url = ""
    down_hint = ""

    def __init__(self, settings: Settings, headers: dict[str, str] | None = None) -> None:
        self.settings = settings
        self.url = (settings.url or self.default_url).rstrip("/")
        self.http = HttpTransport(self.url, self.label, headers, self.down_hint)
        self.gate = ProblemGate(f"{self.label} ({self.url})")
        self._info: EngineInfo | None = None
        self._connect_lock = threading.Lock()

    # -- the Engine protocol --

    def load(self, progress: ProgressCallback) -> EngineInfo:
        """Connect and learn the model; raises EngineError (every time: the caller reports it)."""
        progress(f"Connecting to {self.label} at {self.url}", None)
        try:
            info = self._connect_once(progress)
        except EngineError as err:
            self.gate.mark(err)
            self.http.set_retry(not isinstance(err, EngineDown))
            raise
        self.gate.succeeded()
        self.http.set_retry(True)
        return info

    def count_tokens(self, text: str) -> int:
        """An estimate (about 3 characters per token for code, rounded up) to avoid a round trip.

        Over-estimating is the safe side: prompt windows come out a little short, never too long.
        """
        return math.ceil(len(text) / 3)

    def generate(self, job: GenerationJob, cancel: CancelToken) -> GenerationResult:
        if cancel.cancelled:
            return GenerationResult(text="", stop_reason="cancelled")
        if not self.gate.may_try():
            return GenerationResult(text="", stop_reason="error")
        try:
            if self._info is None:
                self._connect_once(lambda _msg, _pct: None)
            result = self._generate(job, cancel)
        except EngineError as err:
            if cancel.cancelled:
                return GenerationResult(text="", stop_reason="cancelled")
            self.http.set_retry(not isinstance(err, EngineDown))
            if isinstance(err, EngineDown):
                self._forget_server_state()
            self.gate.failed(err)  # raises the first time
            return GenerationResult(text="", stop_reason="error")
        self.gate.succeeded()
        self.http.set_retry(True)
        return result

    def close(self) -> None:
        self.http.close()

    # -- for subclasses --

    def _connect_once(self, progress: ProgressCallback) -> EngineInfo:
        with self._connect_lock:
            if self._info is None:
                self._info = self._connect(progress)
                log.info(
                    "%s at %s: model %s, FIM %s",
                    self.label,
                    self.url,
                    self._info.model,
                    self._info.fim_format,
                )
            return self._info

    def _forget_server_state(self) -> None:
        """After the engine went away it may come back with another model: learn it again."""
        with self._connect_lock:
            self._info = None

    def _connect(self, progress: ProgressCallback) -> EngineInfo:
        raise NotImplementedError

    def _generate(self, job: GenerationJob, cancel: CancelToken) -> GenerationResult:
        raise NotImplementedError

    def stream_job(
        self,
        path: str,
        body: dict[str, Any],
        job: GenerationJob,
        cancel: CancelToken,
        events: Callable[[Iterator[str]], Iterator[dict[str, Any]]],
        to_chunk: Callable[[dict[str, Any]], Chunk],
    ) -> GenerationResult:
        """POST a streaming request and collect it, mapping each event with ``to_chunk``."""
        with self.http.stream(path, body, cancel, job.deadline, job.time_budget_s) as (
            lines,
            watch,
        ):
            chunks = (self._checked(event, to_chunk) for event in events(lines))
            return collect(chunks, job, watch)

    def _checked(self, event: dict[str, Any], to_chunk: Callable[[dict[str, Any]], Chunk]) -> Chunk:
        message = stream_error(event)
        if message is not None:
            raise EngineError(f"{self.label} at {self.url} failed mid-stream: {message}")
        return to_chunk(event)


def api_key(settings: Settings) -> str | None:
    """The API key from the environment variable the settings name (never logged)."""
    name = settings.api_key_env
    return os.environ.get(name) or None if name else None


# --------------------------------------------------------------------------------------------
# fim-lsp doctor


def check(settings: Settings) -> list[tuple[str, str]]:
    """Rows for ``fim-lsp doctor``: can we reach the engine, which model, how FIM is done.

    Also runs one tiny completion, since a server can list a model it then fails to run.
    """
    from lsp_server.context.types import Prompt
    from lsp_server.engine import create_engine

    try:
        engine = create_engine(settings)
    except EngineError as err:
        return [("connection", f"failed: {err.user_message()}")]
    if not isinstance(engine, RemoteEngine):
        return [("connection", "not a remote backend")]
    rows: list[tuple[str, str]] = [("url", engine.url)]
    if settings.api_key_env:
        state = "set" if api_key(settings) else "not set"
        rows.append(("API key", f"${settings.api_key_env} {state}"))
    try:
        info = engine.load(lambda _msg, _pct: None)
    except EngineError as err:
        engine.close()
        return rows + [("connection", f"failed: {err.user_message()}")]
    rows += [("connection", "OK"), ("model", info.model), ("FIM", describe_fim(info))]
    rows += [(key, value) for key, value in info.details.items() if key != "url"]
    job = GenerationJob(
        prompt=Prompt(prefix="def add(a, b):\n    ", suffix="\n"),
        max_tokens=4,
        time_budget_s=30,
    )
    started = time.monotonic()
    try:
        engine.generate(job, CancelToken())
        rows.append(("test completion", f"OK in {(time.monotonic() - started) * 1000:.0f} ms"))
    except EngineError as err:
        rows.append(("test completion", f"failed: {err.user_message()}"))
    finally:
        engine.close()
    return rows


def describe_fim(info: EngineInfo) -> str:
    route = info.details.get("route", "")
    if info.capabilities.server_side_fim:
        return f"server-side ({route}), model tokens: {info.fim_format}"
    return f"raw prompt ({route}), template {info.fim_format}"
