"""An OpenAI-compatible ``/v1/completions`` server as the engine (vLLM, llama-server, LM Studio, TGI).

The legacy completions route takes a plain prompt, so we send our own FIM prompt, rendered by our
template, raw: the server's tokenizer turns the FIM marker text into the model's control tokens.
The template comes from the ``fimTemplate`` setting or a guess from the model name.

Streaming is server-sent events; the last chunk carries ``usage`` when we ask for it with
``stream_options.include_usage`` (vLLM, OpenAI) or always (llama-server, which also sends
``timings`` with ``cache_n``).
"""

from __future__ import annotations

import logging
from typing import Any

from lsp_server.config import EngineSettings
from lsp_server.context.templates import FimTemplate, ModelHints
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
from lsp_server.engine.remote.stream import Chunk, int_or_none, sse_events

log = logging.getLogger(__name__)

_FINISH = {"stop": "eos", "length": "max_tokens"}


class OpenAIEngine(RemoteEngine):
    label = "OpenAI-compatible server"
    default_url = "http://127.0.0.1:8000/v1"
    down_hint = (
        "Start it (e.g. `vllm serve Qwen/Qwen2.5-Coder-7B --port 8000`) or point the url "
        "setting at it. Completions resume when it answers."
    )

    def __init__(self, settings: EngineSettings) -> None:
        super().__init__(settings)
        # Accept the URL with or without its /v1 suffix, as clients of these servers do.
        self._prefix = "" if self.url.endswith("/v1") else "/v1"
        self._model = settings.remote_model
        self._template: FimTemplate | None = None

    def _connect(self, progress: ProgressCallback) -> EngineInfo:
        model = self._pick_model(self._list_models())
        template = resolve_template(self.settings.fim_template, ModelHints(name=model))
        self._model = model
        self._template = template
        return EngineInfo(
            backend="openai",
            model=model,
            fim_format=template.name,
            capabilities=Capabilities(server_side_fim=False, local=False),
            details={"url": self.url, "route": f"{self._prefix}/completions"},
        )

    def _list_models(self) -> list[str]:
        """Model ids from ``/v1/models``; empty when the server doesn't offer that route."""
        try:
            reply = self.http.get_json(f"{self._prefix}/models", timeout=10)
        except EngineError as err:
            if "answered 404" in str(err):
                return []
            raise
        data = reply.get("data", []) if isinstance(reply, dict) else []
        return [str(m.get("id")) for m in data if isinstance(m, dict) and m.get("id")]

    def _pick_model(self, served: list[str]) -> str:
        wanted = self.settings.remote_model
        if wanted:
            if served and wanted not in served:
                log.warning(
                    "%s does not list model %r (it serves %s)", self.url, wanted, ", ".join(served)
                )
            return wanted
        if not served:
            raise EngineError(
                f"{self.url} lists no models and the remoteModel setting is empty",
                "Set remoteModel to the model name the server expects.",
            )
        if len(served) > 1:
            log.info(
                "%s serves %s; using %s (set remoteModel to choose)", self.url, served, served[0]
            )
        return served[0]

    def _generate(self, job: GenerationJob, cancel: CancelToken) -> GenerationResult:
        path, body = self.request_body(job)
        return self.stream_job(path, body, job, cancel, sse_events, _chunk)

    def request_body(self, job: GenerationJob) -> tuple[str, dict[str, Any]]:
        """The route and JSON body for ``job`` (public so tests can check the mapping)."""
        template = self._template
        assert template is not None, "generate() connects first"
        return f"{self._prefix}/completions", {
            "model": self._model,
            "prompt": template.render_text(job.prompt),
            "max_tokens": job.max_tokens,
            "temperature": 0.0,
            "stop": list(template.stop_toks),
            "stream": True,
            "stream_options": {"include_usage": True},
        }


def _chunk(event: dict[str, Any]) -> Chunk:
    """Map one SSE event. With include_usage the finish reason comes first and a choices-less
    usage chunk last (vLLM, OpenAI); llama-server sends both in one chunk."""
    choices = event.get("choices") or []
    choice = choices[0] if choices and isinstance(choices[0], dict) else {}
    finish = choice.get("finish_reason")
    usage = event.get("usage") or {}
    details = usage.get("prompt_tokens_details") or {}
    timings = event.get("timings") or {}
    return Chunk(
        text=str(choice.get("text") or ""),
        stop_reason=_FINISH.get(str(finish), "eos") if finish is not None else None,
        final=bool(usage),
        n_prompt=int_or_none(usage.get("prompt_tokens")),
        n_reused=int_or_none(details.get("cached_tokens", timings.get("cache_n"))),
        n_generated=int_or_none(usage.get("completion_tokens")),
    )
