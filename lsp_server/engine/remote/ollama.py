"""Ollama's ``/api/generate`` as the engine (API: ollama ``docs/api.md``).

Two ways to ask for a fill-in-the-middle completion:

- raw: ``raw: true`` and our own FIM prompt rendered by our template (the ``fimTemplate`` setting
  or a guess from the model name). Preferred: it keeps the prompt layout, extra context and KV
  cache behaviour the same as every other backend.
- suffix: ``prompt`` + ``suffix``, and the model's Ollama template builds the FIM prompt. Used
  when we cannot tell the model's format but Ollama says it can ``insert``. Other files are not
  sent in this mode: we cannot place them without knowing the format.

Responses stream as newline-delimited JSON; the last object has ``done: true`` and the counts.
Ollama reports evaluated prompt tokens but not how many came from its cache.
"""

from __future__ import annotations

import logging
from typing import Any

from lsp_server.config import EngineSettings
from lsp_server.context.templates import FimTemplate, ModelHints, guess_template
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
from lsp_server.engine.remote.stream import Chunk, int_or_none, ndjson_events

log = logging.getLogger(__name__)

GENERATE = "/api/generate"
SUFFIX_MODE = "ollama-suffix"
_DONE = {"stop": "eos", "length": "max_tokens"}


class OllamaEngine(RemoteEngine):
    label = "Ollama"
    default_url = "http://127.0.0.1:11434"
    down_hint = "Start it with `ollama serve`, or point the url setting at it. Completions resume when it answers."

    def __init__(self, settings: EngineSettings) -> None:
        super().__init__(settings)
        self._model = settings.remote_model
        self._template: FimTemplate | None = None

    def _connect(self, progress: ProgressCallback) -> EngineInfo:
        version = str(self.http.get_json("/api/version", timeout=10).get("version", ""))
        model = self.settings.remote_model or self._only_model()
        show = self._show(model)
        self._model = model
        self._template = self._choose_template(model, show)
        return EngineInfo(
            backend="ollama",
            model=model,
            fim_format=self._template.name if self._template else SUFFIX_MODE,
            capabilities=Capabilities(server_side_fim=self._template is None, local=False),
            details={
                "url": self.url,
                "route": f"{GENERATE} ({'raw' if self._template else 'suffix'})",
                "ollama version": version,
                "family": str((show.get("details") or {}).get("family", "")),
            },
        )

    def _only_model(self) -> str:
        """With remoteModel unset, the one model Ollama has; with several we must be told."""
        tags = self.http.get_json("/api/tags", timeout=10)
        names = [str(m.get("name")) for m in tags.get("models", []) if isinstance(m, dict)]
        if len(names) == 1:
            return names[0]
        if names:
            hint = "Set remoteModel to one of: " + ", ".join(names) + "."
        else:
            hint = "Run `ollama pull qwen2.5-coder:1.5b-base`, then set remoteModel."
        raise EngineError(
            f"the remoteModel setting is empty and Ollama has {len(names)} models", hint
        )

    def _show(self, model: str) -> dict[str, Any]:
        try:
            reply = self.http.post_json("/api/show", {"model": model}, timeout=10)
        except EngineError as err:
            if "answered 404" in str(err):
                raise EngineError(
                    f"Ollama has no model {model!r}", f"Run `ollama pull {model}`."
                ) from err
            raise
        return reply if isinstance(reply, dict) else {}

    def _choose_template(self, model: str, show: dict[str, Any]) -> FimTemplate | None:
        """Our template when we know the format, else None for Ollama's suffix mode."""
        setting = self.settings.fim_template
        if setting != "auto" or guess_template(model) is not None:
            return resolve_template(setting, ModelHints(name=model))
        if _can_insert(show):
            return None
        raise EngineError(
            f"cannot tell the FIM format of Ollama model {model!r}, and Ollama says it cannot insert",
            "Set fimTemplate, or use a code model with FIM support (e.g. qwen2.5-coder:1.5b-base).",
        )

    def _generate(self, job: GenerationJob, cancel: CancelToken) -> GenerationResult:
        path, body = self.request_body(job)
        return self.stream_job(path, body, job, cancel, ndjson_events, _chunk)

    def request_body(self, job: GenerationJob) -> tuple[str, dict[str, Any]]:
        """The route and JSON body for ``job`` (public so tests can check the mapping)."""
        options: dict[str, Any] = {"num_predict": job.max_tokens, "temperature": 0.0}
        body: dict[str, Any] = {"model": self._model, "stream": True, "options": options}
        if self._template is not None:
            body["prompt"] = self._template.render_text(job.prompt)
            body["raw"] = True
            options["stop"] = list(self._template.stop_toks)
        else:
            body["prompt"] = job.prompt.before_cursor
            body["suffix"] = job.prompt.suffix
        return GENERATE, body


def _can_insert(show: dict[str, Any]) -> bool:
    """Newer Ollama lists an "insert" capability; older ones show a template using .Suffix."""
    capabilities = show.get("capabilities")
    if isinstance(capabilities, list):
        return "insert" in capabilities
    return ".Suffix" in str(show.get("template", ""))


def _chunk(event: dict[str, Any]) -> Chunk:
    text = str(event.get("response") or "")
    if not event.get("done"):
        return Chunk(text=text)
    return Chunk(
        text=text,
        stop_reason=_DONE.get(str(event.get("done_reason", "stop")), "eos"),
        final=True,
        n_prompt=int_or_none(event.get("prompt_eval_count")),
        n_generated=int_or_none(event.get("eval_count")),
        t_prompt_s=_ns(event.get("prompt_eval_duration")),
        t_gen_s=_ns(event.get("eval_duration")),
    )


def _ns(value: Any) -> float | None:
    return float(value) / 1e9 if isinstance(value, int | float) else None
