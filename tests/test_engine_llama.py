"""The in-process engine on the real test model: token building, KV reuse, abort."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest

from lsp_server.context.types import Prompt
from lsp_server.engine.base import CancelToken, GenerationJob
from lsp_server.engine.llama_cpp import LlamaCppEngine

pytestmark = pytest.mark.model


def test_detects_qwen_format_from_the_gguf(engine: LlamaCppEngine) -> None:
    info = engine.info()
    assert info.fim_format == "qwen" and info.details["architecture"] == "qwen2"


def test_control_tokens_in_user_code_stay_plain_text(engine: LlamaCppEngine) -> None:
    special = engine._loaded.special  # type: ignore[union-attr]
    fim_ids = {special["<|fim_prefix|>"], special["<|fim_suffix|>"], special["<|fim_middle|>"]}
    tokens = engine.tokens_for(Prompt(prefix="s = '<|fim_middle|><|fim_suffix|>'\n", suffix="<|fim_prefix|>"))
    assert sum(t in fim_ids for t in tokens) == 3  # only the template's own three markers


def test_typing_reuses_the_kv_cache(engine: LlamaCppEngine) -> None:
    prefix = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(20))
    first = engine.generate(GenerationJob(Prompt(prefix, "\n", "def g("), max_tokens=4), CancelToken())
    second = engine.generate(GenerationJob(Prompt(prefix, "\n", "def g(a"), max_tokens=4), CancelToken())
    assert first.n_prompt > 200
    assert second.n_reused >= second.n_prompt - 3  # only the typed tail is evaluated again


def test_cancel_stops_within_a_token(engine: LlamaCppEngine) -> None:
    token = CancelToken()
    steps: list[float] = []

    def stop_check(text: str) -> bool:
        steps.append(time.monotonic())
        if len(steps) == 3:
            threading.Thread(target=token.cancel).start()
            time.sleep(0.05)
        return False

    prompt = Prompt("# count to one hundred\nnumbers = [", "]\n", "1, 2, 3")
    result = engine.generate(GenerationJob(prompt, max_tokens=64, should_stop=stop_check), token)
    assert result.stop_reason == "cancelled"
    assert result.n_generated <= 4


def test_cancel_during_prompt_keeps_what_was_evaluated(engine: LlamaCppEngine) -> None:
    token = CancelToken()
    token.cancel()
    result = engine.generate(GenerationJob(Prompt("x = 1\n" * 50, ""), max_tokens=8), token)
    assert result.stop_reason == "cancelled" and result.n_generated == 0
    # the counts say what was done: nothing past the cache's own prefix was evaluated
    assert result.n_prompt == result.n_reused < 300


def test_lookup_decoding_keeps_the_greedy_text_and_accepts_drafts(engine: LlamaCppEngine) -> None:
    prefix = "".join(f"def scale_{i}(values):\n    return [v * {i} for v in values]\n\n" for i in range(8))
    prompt = Prompt(prefix + "def scale_8(values):\n", "\n")
    texts = []
    for lookup in (False, True):
        engine.settings = replace(engine.settings, lookup_decoding=lookup)
        engine.generate(GenerationJob(Prompt("x = 1\n", ""), max_tokens=1), CancelToken())  # flush the cache
        before = engine.accepted
        result = engine.generate(GenerationJob(prompt, max_tokens=24), CancelToken())
        texts.append(result.text)
        assert (engine.accepted > before) == lookup
    assert texts[0] == texts[1] and "return [v * 8 for v in values]" in texts[0]


@pytest.mark.parametrize("indents", [(4,), (8,), (12, 0)])
def test_the_first_line_starts_where_the_block_structure_allows(engine: LlamaCppEngine, indents: tuple[int, ...]) -> None:
    prompt = Prompt(prefix="def area(r):\n    if r > 0:\n        x = 3.14 * r * r\n", suffix="\n\nprint(area(2))\n")
    job = GenerationJob(prompt=prompt, max_tokens=12, indents=indents, needs_text=True)
    text = engine.generate(job, CancelToken()).text
    first = next(line for line in text.split("\n") if line.strip())
    assert text.startswith(first)  # no blank line first
    assert len(first) - len(first.lstrip(" ")) in indents, text


def test_code_is_written_where_it_is_needed(engine: LlamaCppEngine) -> None:
    # Right after a docstring the model may think the function is done; a body is due there.
    prompt = Prompt(prefix='def double(x):\n    """Twice x."""\n', suffix="\n\nprint(double(2))\n")
    job = GenerationJob(prompt=prompt, max_tokens=16, indents=(4,), needs_text=True)
    text = engine.generate(job, CancelToken()).text
    assert text.startswith("    ") and text.strip()


def test_a_word_cut_by_the_cursor_is_healed(engine: LlamaCppEngine) -> None:
    # The prompt ends in " o" of a word the model would write as one token (" operations").
    prefix = "def below_zero(operations):\n    balance = 0\n    for op in o"
    prompt = Prompt(prefix="", suffix="\n    return False\n", middle=prefix)
    tokens, heal = engine._healed(GenerationJob(prompt=prompt, heal=True))
    assert heal == " o" and tokens == engine.tokens_for(prompt)[:-1]
    healed = engine.generate(GenerationJob(prompt=prompt, max_tokens=4, heal=True), CancelToken())
    assert healed.text.startswith("perations:"), healed.text  # what follows the cursor, not " o..." again
    assert engine._healed(GenerationJob(prompt=prompt))[1] == ""  # only when asked
    block = Prompt(prefix="", suffix="\n", middle="x = 1\n")  # a line break is never backed up
    assert engine._healed(GenerationJob(prompt=block, heal=True))[1] == ""


def test_out_of_time_an_opened_block_still_gets_its_body(engine: LlamaCppEngine) -> None:
    prompt = Prompt(prefix="", suffix="\n    return False\n",
                    middle="def below_zero(operations):\n    balance = 0\n    for op in o")  # fmt: skip
    def opens(text: str) -> bool:
        return not text[: text.rfind("\n")].rstrip().endswith(":")

    # A zero budget ends at the first line end; allowed to, the run stops after "perations:".
    job = GenerationJob(prompt=prompt, max_tokens=24, heal=True, time_budget_s=0.0)
    assert engine.generate(job, CancelToken()).text.rstrip("\n") == "perations:"
    late = engine.generate(replace(job, may_end=opens, grace_s=30.0), CancelToken())
    assert late.stop_reason == "deadline" and late.text.startswith("perations:\n        ")
    lines = late.text.rstrip("\n").split("\n")
    assert len(lines) >= 2 and not lines[-1].endswith(":"), late.text  # it ends where a block has a body
