"""Inference backends behind one `Engine` protocol (see base.py)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import cast

from lsp_server.backends import BACKENDS, Backend
from lsp_server.config import EngineSettings
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
    "engine_class",
]


def create_engine(settings: EngineSettings) -> Engine:
    """The engine the settings select; imports only its module, so a remote setup never loads
    llama.cpp."""
    backend = BACKENDS.get(settings.backend)
    if backend is None:
        raise EngineError(
            f"unknown backend {settings.backend!r}", f"Use one of {', '.join(BACKENDS)}."
        )
    return engine_class(backend)(settings)


def engine_class(backend: Backend) -> Callable[[EngineSettings], Engine]:
    """The class a registry entry names."""
    module, _, name = backend.engine.partition(":")
    return cast("Callable[[EngineSettings], Engine]", getattr(importlib.import_module(module), name))
