"""A prompt's head evaluated ahead (`LlamaCppEngine.warm`) and documents' KV states on disk,
on the real test model: counts of reused tokens, and the same text as from a cold cache."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lsp_server import models
from lsp_server.config import EngineSettings
from lsp_server.context.types import Prompt
from lsp_server.engine.base import CancelToken, GenerationJob
from lsp_server.engine.llama_cpp import LlamaCppEngine

pytestmark = pytest.mark.model
MODEL = "qwen2.5-coder-0.5b-offline"
SETTINGS = EngineSettings(n_threads=2, n_ctx=2048, n_batch=64)
PREFIX = "".join(f"def f{i}(x):\n    return x * {i} + {i * 7}\n\n" for i in range(24))
SUFFIX = "\n\nprint(g(3))\n"


@pytest.fixture
def kv_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if models.local_path(MODEL) is None:
        pytest.fail(f"test model missing: run `fim-lsp model pull {MODEL}`")
    monkeypatch.setattr(models, "kv_dir", lambda: tmp_path)
    return tmp_path


@pytest.fixture
def engines() -> Iterator[list[LlamaCppEngine]]:
    opened: list[LlamaCppEngine] = []
    yield opened
    for engine in opened:
        engine.close()


def _open(engines: list[LlamaCppEngine], settings: EngineSettings = SETTINGS) -> LlamaCppEngine:
    engine = LlamaCppEngine(settings)
    engine.load(lambda _m, _p: None)
    engines.append(engine)
    return engine


def _ask(engine: LlamaCppEngine, session: str, middle: str = "def g(") -> tuple[str, int, int]:
    job = GenerationJob(Prompt(PREFIX, SUFFIX, middle), max_tokens=12, session=session)
    result = engine.generate(job, CancelToken())
    return result.text, result.n_prompt, result.n_reused


def test_a_warmed_head_is_reused_by_the_request(kv_dir: Path, engines: list[LlamaCppEngine]) -> None:
    engine = _open(engines)
    head = engine.warm(Prompt(PREFIX, SUFFIX, "def g("), "file:///a.py", CancelToken(), through_suffix=False)
    assert head.stop_reason == "warm" and head.n_prompt > 300 and head.n_reused == 0
    _, n_prompt, reused = _ask(engine, "file:///a.py")
    assert reused >= head.n_prompt - 2 and n_prompt - reused < 40  # the suffix and middle only
    whole = engine.warm(Prompt(PREFIX, SUFFIX, "def g("), "file:///a.py", CancelToken(), through_suffix=True)
    assert whole.n_reused == whole.n_prompt  # already in the cache: nothing evaluated, nothing dropped


def test_a_restarted_engine_answers_from_the_state_on_disk(kv_dir: Path, engines: list[LlamaCppEngine]) -> None:
    first = _open(engines)
    text, n_prompt, reused = _ask(first, "file:///a.py")
    assert reused == 0
    first.close()  # saves the document's state
    assert len(list(kv_dir.glob("*.kv"))) == 1
    again = _open(engines)
    text2, n_prompt2, reused2 = _ask(again, "file:///a.py")
    assert (text2, n_prompt2) == (text, n_prompt)  # the same answer as from a cold cache
    assert reused2 == n_prompt - 1  # all but the last token, evaluated again for its logits


def test_other_engine_settings_or_a_damaged_file_start_cold(kv_dir: Path, engines: list[LlamaCppEngine]) -> None:
    first = _open(engines)
    _ask(first, "file:///a.py")
    assert first.states is not None
    state = first.states.store.path_for("file:///a.py")
    first.close()
    other = _open(engines, EngineSettings(n_threads=2, n_ctx=1024, n_batch=64))
    assert _ask(other, "file:///a.py")[2] == 0  # n_ctx differs: not this state
    other.close()
    state.write_bytes(state.read_bytes()[:-100])
    damaged = _open(engines)
    assert _ask(damaged, "file:///a.py")[2] == 0
    assert not state.exists()
