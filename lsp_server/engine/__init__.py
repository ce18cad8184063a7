"""Inference backends behind one `Engine` protocol (see base.py)."""

from __future__ import annotations

from lsp_server.config import Settings
from lsp_server.engine.base import (
    CancelToken,
    Capabilities,
    Engine,
    EngineError,
    EngineInfo,
    GenerationJob,
    GenerationResult,
)

__all__ = [
    "CancelToken",
    "Capabilities",
    "Engine",
    "EngineError",
    "EngineInfo",
    "GenerationJob",
    "GenerationResult",
    "create_engine",
]


def create_engine(settings: Settings) -> Engine:
    """The engine the settings select; imports lazily so a remote setup never loads llama.cpp."""
    if settings.backend == "llama_cpp":
        from lsp_server.engine.llama_cpp import LlamaCppEngine

        return LlamaCppEngine(settings)
    if settings.backend == "llama-server":
        from lsp_server.engine.remote.llama_server import LlamaServerEngine

        return LlamaServerEngine(settings)
    if settings.backend == "openai":
        from lsp_server.engine.remote.openai_compat import OpenAIEngine

        return OpenAIEngine(settings)
    if settings.backend == "ollama":
        from lsp_server.engine.remote.ollama import OllamaEngine

        return OllamaEngine(settings)
    raise EngineError(f"unknown backend {settings.backend!r}", "Use one of llama_cpp, llama-server, openai, ollama.")
