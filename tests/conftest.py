"""Shared test setup: tests/ is on sys.path (for lsp_helpers) because this file lives here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from lsp_server.engine.llama_cpp import LlamaCppEngine

TEST_MODEL = "qwen2.5-coder-0.5b-offline"


@pytest.fixture(scope="module")
def engine() -> Iterator[LlamaCppEngine]:
    """The in-process engine on the real test model, one per test module (the tests marked
    ``model``); llama.cpp is imported only by the tests that ask for it."""
    from lsp_server import models
    from lsp_server.config import EngineSettings
    from lsp_server.engine.llama_cpp import LlamaCppEngine

    if models.local_path(TEST_MODEL) is None:
        pytest.fail(f"test model missing: run `fim-lsp model pull {TEST_MODEL}`")
    eng = LlamaCppEngine(EngineSettings(model=TEST_MODEL, n_threads=2, n_ctx=2048, n_batch=32))
    eng.load(lambda _m, _p: None)
    yield eng
    eng.close()
