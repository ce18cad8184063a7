"""The llama-cpp-python adapter on the real test model: what it relies on exists, each operation
does what the engine needs. After an upgrade of the pinned package these fail first, naming
what moved.

Vocabulary operations use a ``vocab_only=True`` model (fast, as llama-cpp-python's own tests do);
the KV cache and logits need a context.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from lsp_server import models
from lsp_server.engine import llama_adapter
from lsp_server.engine.base import EngineError
from lsp_server.engine.llama_adapter import (
    LIBRARY_NAMES,
    LLAMA_NAMES,
    PINNED_VERSION,
    LlamaAdapter,
    gpu_offload,
    load_library,
    missing_internals,
)

pytestmark = pytest.mark.model
MODEL = "qwen2.5-coder-0.5b-offline"
ROOT = Path(__file__).resolve().parents[1]
FIM = ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>")


def _model_path() -> Path:
    path = models.local_path(MODEL)
    if path is None:
        pytest.fail(f"test model missing: run `fim-lsp model pull {MODEL}`")
    return path


def _upgraded(owner: str, missing: list[str]) -> str:
    import llama_cpp

    names = ", ".join(f"{owner}.{m}" for m in missing)
    return (f"llama-cpp-python {llama_cpp.__version__} has no {names}: port lsp_server/engine/llama_adapter.py "
            f"(written for {PINNED_VERSION})")  # fmt: skip


@pytest.fixture(scope="module")
def vocab() -> Iterator[LlamaAdapter]:
    import llama_cpp

    load_library()
    path = _model_path()
    adapter = LlamaAdapter(llama_cpp.Llama(str(path), vocab_only=True, verbose=False), path)
    yield adapter
    adapter.close()


@pytest.fixture(scope="module")
def model() -> Iterator[LlamaAdapter]:
    # One thread: two wait on each other for seconds on a busy 2-core machine.
    adapter = LlamaAdapter.open(_model_path(), n_ctx=256, n_batch=512, n_threads=1, n_gpu_layers=0)
    yield adapter
    adapter.close()


# -- what the adapter relies on --------------------------------------------------------------


def test_the_pinned_version_is_the_one_in_pyproject() -> None:
    pins = re.findall(r'"llama-cpp-python==([^"]+)"', (ROOT / "pyproject.toml").read_text())
    assert pins == [PINNED_VERSION], f"pyproject.toml pins {pins}, llama_adapter.PINNED_VERSION is {PINNED_VERSION}"


def test_the_library_has_every_function_the_adapter_calls() -> None:
    import llama_cpp

    missing = missing_internals(llama_cpp, LIBRARY_NAMES)
    assert not missing, _upgraded("llama_cpp", missing)


def test_a_llama_has_every_attribute_the_adapter_uses(model: LlamaAdapter) -> None:
    missing = missing_internals(model._llm, LLAMA_NAMES)
    assert not missing, _upgraded("Llama", missing)


def test_a_missing_name_stops_the_adapter_with_the_pinned_version(
    vocab: LlamaAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    import llama_cpp

    monkeypatch.delattr(llama_cpp, "llama_vocab_is_eog")
    with pytest.raises(EngineError, match=rf"llama_cpp\.llama_vocab_is_eog.*=={re.escape(PINNED_VERSION)}"):
        load_library()
    monkeypatch.undo()
    llm = vocab._llm
    monkeypatch.delattr(llm, "_batch")
    with pytest.raises(EngineError, match=rf"Llama\._batch\.set_batch.*=={re.escape(PINNED_VERSION)}") as err:
        LlamaAdapter(llm, vocab.path)
    assert PINNED_VERSION in err.value.hint


def _used_paths(tree: ast.AST) -> dict[str, set[str]]:
    """Attribute paths the code takes from ``lib`` / ``self._lib`` and ``llm`` / ``self._llm``."""
    used: dict[str, set[str]] = {"lib": set(), "llm": set()}
    for node in ast.walk(tree):
        names: list[str] = []
        cur: ast.AST = node
        while isinstance(cur, ast.Attribute):
            names.insert(0, cur.attr)
            cur = cur.value
        if not isinstance(cur, ast.Name) or not names:
            continue
        if cur.id == "self" and names[0] in ("_lib", "_llm") and len(names) > 1:
            used[names[0][1:]].add(".".join(names[1:]))
        elif cur.id in used:
            used[cur.id].add(".".join(names))
    return used


def _covered(path: str, listed: tuple[str, ...]) -> bool:
    """Listed, on the way to a listed path, or a method of a listed value (`metadata.get`)."""
    return any(e == path or e.startswith(path + ".") or path.startswith(e + ".") for e in listed)


def test_the_check_lists_exactly_what_the_adapter_uses() -> None:
    used = _used_paths(ast.parse(Path(llama_adapter.__file__).read_text()))
    for root, listed in (("lib", LIBRARY_NAMES), ("llm", LLAMA_NAMES)):
        unlisted = sorted(p for p in used[root] if not _covered(p, listed))
        assert not unlisted, f"llama_adapter uses {root}.{unlisted} without checking it (add to the lists)"
        stale = sorted(entry for entry in listed if entry not in used[root])
        assert not stale, f"llama_adapter checks {root}.{stale} but no longer uses it"


# -- vocabulary ------------------------------------------------------------------------------


def test_model_facts(vocab: LlamaAdapter) -> None:
    assert vocab.meta("general.architecture") == "qwen2"
    assert "0.5B" in vocab.meta("general.name") and vocab.meta("no.such.key") == ""
    assert vocab.system_info()


def test_plain_text_never_becomes_a_control_token(vocab: LlamaAdapter) -> None:
    special = {tok for tok, _ in vocab.special_pieces()}
    tokens = vocab.tokenize("".join(FIM))
    assert tokens and not special & set(tokens)
    assert vocab.tokenize("") == []


def test_token_bytes_spell_the_text_again(vocab: LlamaAdapter) -> None:
    text = "def grüße(x):\n    return x  # ✓\n"
    assert b"".join(vocab.token_bytes(t) for t in vocab.tokenize(text)) == text.encode("utf-8")


def test_control_tokens_and_the_gguf_fim_markers(vocab: LlamaAdapter) -> None:
    pieces = list(vocab.special_pieces())
    ids = [tok for tok, _ in pieces]
    assert ids == sorted(ids)
    special = dict((text, tok) for tok, text in pieces)
    assert all(marker in special for marker in FIM)
    assert vocab.gguf_fim_texts() == FIM
    assert vocab.token_bytes(special["<|fim_middle|>"]) == b""  # control tokens spell nothing


def test_end_of_generation(vocab: LlamaAdapter) -> None:
    special = dict((text, tok) for tok, text in vocab.special_pieces())
    assert vocab.is_eog(special["<|endoftext|>"]) and vocab.is_eog(special["<|im_end|>"])
    assert not vocab.is_eog(special["<|fim_middle|>"]) and not vocab.is_eog(vocab.tokenize("x")[0])


def test_qwen_prompts_start_without_bos(vocab: LlamaAdapter) -> None:
    assert vocab.prompt_start() == []


# -- the KV cache and logits -----------------------------------------------------------------


def _greedy(model: LlamaAdapter, i: int = -1) -> int:
    return int(np.argmax(model.logits(i)))


def test_eval_truncate_and_reuse(model: LlamaAdapter) -> None:
    tokens = model.tokenize("def add(a, b):\n    return a +")
    model.clear()
    assert model.n_cached == 0 and model.cached_tokens().tolist() == []
    model.eval(tokens)
    assert model.cached_tokens().tolist() == tokens and model.n_cached == len(tokens)
    logits = model.logits()
    assert logits.shape == (len(logits),) and np.isfinite(logits).all()
    after_all = _greedy(model)
    assert model.token_bytes(after_all) == b" b"
    model.truncate(3)  # what a new prompt sharing three tokens keeps
    assert model.cached_tokens().tolist() == tokens[:3]
    model.eval(tokens[3:])
    assert _greedy(model) == after_all


def test_a_state_put_back_continues_as_the_evaluated_cache_does(model: LlamaAdapter) -> None:
    tokens = model.tokenize("def add(a, b):\n    return a +")
    model.clear()
    model.eval(tokens)
    after_all = _greedy(model)
    blob = model.state_bytes()
    model.clear()
    assert model.restore(blob, tokens)
    assert model.cached_tokens().tolist() == tokens
    model.truncate(len(tokens) - 1)  # the engine evaluates the last token again for its logits
    model.eval(tokens[-1:])
    assert _greedy(model) == after_all
    assert not model.restore(blob, tokens[:-2]) and model.n_cached == 0  # not the state of these tokens
    assert not model.restore(b"not a state", tokens) and model.n_cached == 0
    assert model.restore(blob, tokens)  # a refused state left the context usable


def test_gpu_offload_is_a_yes_or_no() -> None:
    assert isinstance(gpu_offload(), bool)


def test_eval_each_keeps_the_logits_of_every_position(model: LlamaAdapter) -> None:
    tokens = model.tokenize("for i in range(10):\n    print(i)\n")
    model.clear()
    model.eval(tokens[:-3])
    step_by_step = []
    for tok in tokens[-3:]:
        model.eval([tok])
        step_by_step.append(_greedy(model))
    model.truncate(len(tokens) - 3)
    model.eval_each(tokens[-3:])
    assert model.cached_tokens().tolist() == tokens
    assert [_greedy(model, i) for i in range(3)] == step_by_step


def test_a_file_that_is_no_model_is_an_error_the_engine_reports(tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"not a model")
    with pytest.raises((ValueError, RuntimeError, OSError)):
        LlamaAdapter.open(bad, n_ctx=256, n_batch=512, n_threads=1, n_gpu_layers=0)
