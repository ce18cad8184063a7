"""llama.cpp's llama-server as the engine: one shared model, several slots, KV cache per slot.

Two routes (API: llama.cpp ``tools/server/README.md``):

- ``/infill``: the server builds the FIM prompt from the model's own FIM tokens (``input_prefix``,
  ``input_suffix``, ``input_extra`` for other files, ``prompt`` for `Prompt.middle`). Used when
  ``fimTemplate`` is ``auto`` and the server accepts infill for its model. Note: the README says
  ``prompt`` goes after the middle token, but ``format_prompt_infill`` (server-common.cpp, in the
  llama.cpp we pin) appends it to the prefix, before the suffix token.
- ``/completion``: our own template rendered as raw text; used when ``fimTemplate`` names a
  template, or when ``/infill`` is refused but the vocabulary still has a family's FIM tokens.

``/props`` tells the model and the slot count; ``/tokenize`` tells which FIM control tokens the
vocabulary has (``/props`` does not list them).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from lsp_server.config import EngineSettings
from lsp_server.context.templates import FimTemplate, ModelHints, NoFimSupport, detect_template
from lsp_server.context.types import Prompt
from lsp_server.engine.base import (
    CancelToken,
    Capabilities,
    EngineError,
    EngineInfo,
    GenerationJob,
    GenerationResult,
    ProgressCallback,
)
from lsp_server.engine.remote.base import RemoteEngine, resolve_template
from lsp_server.engine.remote.stream import Chunk, generation_limit_ms, int_or_none, sse_events
from lsp_server.engine.remote.transport import EngineDown

log = logging.getLogger(__name__)

INFILL = "/infill"
COMPLETION = "/completion"
# How long load() waits for a server that is still loading its model (503 on /health).
LOAD_WAIT_S = 120.0

_STOP_TYPES = {"eos": "eos", "word": "stop", "limit": "max_tokens"}


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


class LlamaServerEngine(RemoteEngine):
    label = "llama-server"
    default_url = "http://127.0.0.1:8080"
    down_hint = (
        "Start it, e.g. `llama-server -m model.gguf --host 0.0.0.0 --port 8080 --parallel 4`, "
        "or point the url setting at it. Completions resume when it answers."
    )

    def __init__(self, settings: EngineSettings) -> None:
        super().__init__(settings)
        self._route = INFILL
        self._template: FimTemplate | None = None
        self._slots = SlotMemory()

    # -- connect --

    def _connect(self, progress: ProgressCallback) -> EngineInfo:
        self._wait_healthy(progress)
        props = self.http.get_json("/props", timeout=10)
        model = _model_name(props)
        slots = int(props.get("total_slots") or 1)
        slot_ctx = int((props.get("default_generation_settings") or {}).get("n_ctx") or 0)
        has_token = self._vocabulary()
        detected = _vocabulary_template(has_token)
        infill_ok = self._infill_supported()
        hints = ModelHints(has_token=has_token, name=model)
        self._route, self._template = self._choose_route(hints, detected, infill_ok)
        self._slots.forget()
        return EngineInfo(
            backend="llama-server",
            model=model,
            fim_format=self._template.name if self._template else "server",
            capabilities=Capabilities(server_side_fim=self._route == INFILL, local=False),
            request_tokens=slot_ctx,
            details={
                "url": self.url,
                "route": self._route,
                "slots": str(slots),
                "slot context": str(slot_ctx),
                "server build": str(props.get("build_info", "")),
            },
        )

    def _wait_healthy(self, progress: ProgressCallback) -> None:
        """Wait while the server loads its model (it answers 503 until then)."""
        until = time.monotonic() + LOAD_WAIT_S
        while True:
            try:
                self.http.get_json("/health", timeout=5)
                return
            except EngineDown as err:
                if "not ready" not in str(err) or time.monotonic() > until:
                    raise
                progress("llama-server is loading its model", None)
                time.sleep(0.5)

    def _vocabulary(self) -> Callable[[str], bool]:
        """Whether the server's vocabulary has a control token, asked once per token."""
        memo: dict[str, bool] = {}

        def has_token(text: str) -> bool:
            if text not in memo:
                reply = self.http.post_json(
                    "/tokenize", {"content": text, "parse_special": True}, timeout=10
                )
                memo[text] = len(reply.get("tokens", [])) == 1
            return memo[text]

        return has_token

    def _infill_supported(self) -> bool:
        """Ask /infill for zero new tokens: it answers 501 when the model has no FIM tokens."""
        body = {"input_prefix": "", "input_suffix": "", "n_predict": 0, "cache_prompt": False}
        try:
            self.http.post_json(INFILL, body, timeout=30)
        except EngineDown:
            raise
        except EngineError as err:
            log.info("llama-server refuses /infill for this model: %s", err)
            return False
        return True

    def _choose_route(
        self, hints: ModelHints, detected: FimTemplate | None, infill_ok: bool
    ) -> tuple[str, FimTemplate | None]:
        setting = self.settings.fim_template
        if setting == "auto" and infill_ok:
            return INFILL, detected
        if setting == "auto" and detected is None and not infill_ok:
            raise EngineError(
                f"the model llama-server runs ({hints.name}) has no fill-in-the-middle tokens",
                "Start llama-server with a code model that supports FIM (e.g. Qwen2.5-Coder).",
            )
        return COMPLETION, resolve_template(setting, hints)

    # -- generate --

    def _generate(self, job: GenerationJob, cancel: CancelToken) -> GenerationResult:
        route, body = self.request_body(job)
        return self.stream_job(route, body, job, cancel, sse_events, lambda e: self._chunk(e, job))

    def request_body(self, job: GenerationJob) -> tuple[str, dict[str, Any]]:
        """The route and JSON body for ``job`` (public so tests can check the mapping)."""
        body: dict[str, Any] = {
            "n_predict": job.max_tokens,
            "stream": True,
            "cache_prompt": True,
            "id_slot": self._slots.get(job.session),
            "temperature": 0.0,
        }
        limit = generation_limit_ms(job)
        if limit is not None:
            # Server-side backstop: counted from the first token, applied after a newline.
            body["t_max_predict_ms"] = limit
        if self._route == INFILL:
            body.update(_infill_fields(job.prompt))
            return INFILL, body
        assert self._template is not None
        body["prompt"] = self._template.render_text(job.prompt)
        body["stop"] = list(self._template.stop_toks)
        return COMPLETION, body

    def _chunk(self, event: dict[str, Any], job: GenerationJob) -> Chunk:
        text = str(event.get("content") or "")
        if not event.get("stop"):
            return Chunk(text=text)
        if "id_slot" in event:
            self._slots.put(job.session, int(event["id_slot"]))
        timings = event.get("timings") or {}
        n_generated = int(event.get("tokens_predicted") or timings.get("predicted_n") or 0)
        reason = _STOP_TYPES.get(str(event.get("stop_type")), "eos")
        if reason == "max_tokens" and n_generated < job.max_tokens:
            reason = "deadline"  # t_max_predict_ms ended it
        return Chunk(
            text=text,
            stop_reason=reason,
            final=True,
            n_prompt=int_or_none(event.get("tokens_evaluated")),
            n_reused=int_or_none(timings.get("cache_n")),
            n_generated=n_generated,
            t_prompt_s=_seconds(timings.get("prompt_ms")),
            t_gen_s=_seconds(timings.get("predicted_ms")),
        )


def _vocabulary_template(has_token: Callable[[str], bool]) -> FimTemplate | None:
    """The template whose control tokens the vocabulary has, or None: decides the route."""
    try:
        return detect_template(has_token)
    except NoFimSupport:
        return None


def _infill_fields(prompt: Prompt) -> dict[str, Any]:
    return {
        "input_prefix": prompt.prefix,
        "input_suffix": prompt.suffix,
        "input_extra": [{"filename": c.path, "text": c.text} for c in prompt.extra],
        # The text from the anchor to the cursor; the server appends it to the prefix.
        "prompt": prompt.middle,
    }


def _model_name(props: dict[str, Any]) -> str:
    """The alias given with --alias, else the model file's name (the alias defaults to its path)."""
    alias = str(props.get("model_alias") or props.get("model_path") or "")
    return os.path.basename(alias) if alias.endswith(".gguf") else alias or "unknown"


def _seconds(ms: Any) -> float | None:
    return float(ms) / 1000.0 if isinstance(ms, int | float) else None
