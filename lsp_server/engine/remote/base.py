"""The `Engine` skeleton the remote backends fill in, and what they all send and parse alike."""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

from lsp_server.config import EngineSettings
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
    RewriteJob,
    ScoreJob,
    ScoreResult,
)
from lsp_server.engine.remote.gate import ProblemGate
from lsp_server.engine.remote.stream import Chunk, collect, stream_error
from lsp_server.engine.remote.transport import EngineDown, HttpTransport

log = logging.getLogger(__name__)


class RemoteEngine:
    """What the remote engines share: connect lazily, report failures once, stream a job.

    Subclasses set ``label``/``default_url``/``down_hint`` and implement `_connect` (learn the
    model and how to prompt it) and `_generate` (one streamed request).
    """

    label = "remote engine"
    default_url = ""
    down_hint = ""

    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings
        self.url = (settings.url or self.default_url).rstrip("/")
        self.http = HttpTransport(self.url, self.label, bearer_headers(settings), self.down_hint)
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

    def rewrite(self, job: RewriteJob, cancel: CancelToken) -> GenerationResult:
        """Not supported yet: the rewrite's prompt carries control tokens by id, which the remote
        APIs used here cannot take, and its speed depends on verifying a draft in process."""
        raise EngineError(f"next-edit suggestions need the in-process engine, not the {self.label}")

    def score(self, job: ScoreJob, cancel: CancelToken) -> ScoreResult:
        """Not supported: next-edit suggestions need the in-process engine (see `rewrite`)."""
        raise EngineError(f"next-edit suggestions need the in-process engine, not the {self.label}")

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
        with self.http.stream(path, body, cancel, job.time_budget_s) as (
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


def api_key(settings: EngineSettings) -> str | None:
    """The API key from the environment variable the settings name (never logged)."""
    name = settings.api_key_env
    return os.environ.get(name) or None if name else None


def bearer_headers(settings: EngineSettings) -> dict[str, str]:
    """The API key as a Bearer header, when the environment has one.

    llama-server (``--api-key``) and OpenAI-compatible servers check it; Ollama has no keys
    itself but often sits behind a proxy that wants one.
    """
    key = api_key(settings)
    return {"Authorization": f"Bearer {key}"} if key else {}


def resolve_template(setting: str, hints: ModelHints) -> FimTemplate:
    """`choose_template`, with errors that tell a remote engine's user what to set."""
    try:
        return choose_template(setting, hints)
    except NoFimSupport as err:
        names = ", ".join(sorted(TEMPLATES))
        raise EngineError(str(err), f"Set fimTemplate to one of: {names}.") from err
    except ValueError as err:
        raise EngineError(str(err), "Fix the fimTemplate setting.") from err
