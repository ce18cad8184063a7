"""The backends the ``backend`` setting may name: one table for the settings check,
`create_engine` and ``fim-lsp doctor``.

An entry names its engine class by import path rather than holding it: the table sits below
the engine layer (settings validation reads it), and importing a backend costs numpy or httpx,
so only the chosen one is ever imported.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backend:
    name: str
    engine: str  # "module:Class"; the class takes EngineSettings and implements engine.base.Engine
    remote: bool  # talks to an inference server: the doctor checks the connection


BACKENDS: dict[str, Backend] = {
    b.name: b
    for b in (
        Backend("llama_cpp", "lsp_server.engine.llama_cpp:LlamaCppEngine", remote=False),
        Backend("llama-server", "lsp_server.engine.remote.llama_server:LlamaServerEngine", remote=True),
        Backend("openai", "lsp_server.engine.remote.openai_compat:OpenAIEngine", remote=True),
        Backend("ollama", "lsp_server.engine.remote.ollama:OllamaEngine", remote=True),
    )
}
