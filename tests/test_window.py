from __future__ import annotations

from lsp_server.context.window import (
    MAX_MIDDLE_LINES,
    Anchor,
    PromptBudget,
    build_prompt,
    extra_chunks,
)


def words(text: str) -> int:
    """A stand-in tokenizer: one token per whitespace-separated word (pure tests need no model)."""
    return len(text.split())


SOURCE = "".join(f"line{i} a b\n" for i in range(100))


def test_windows_end_at_line_boundaries_within_budget() -> None:
    offset = SOURCE.index("line50") + 6  # inside line 50
    prompt, anchor = build_prompt(SOURCE, offset, PromptBudget(30, 9), words)
    assert prompt.prefix.endswith("line49 a b\n") and prompt.prefix.startswith("line40 ")
    assert words(prompt.prefix) <= 30
    assert prompt.middle == "line50"
    assert prompt.suffix == " a b\nline51 a b\nline52 a b\n"
    assert anchor == Anchor(40, 50)


def test_anchor_holds_while_typing_below_it_so_the_prompt_head_is_stable() -> None:
    budget = PromptBudget(30, 9)
    offset = SOURCE.index("line50")
    first, anchor = build_prompt(SOURCE, offset, budget, words)
    typed = SOURCE[:offset] + "x = 1\ny" + SOURCE[offset:]
    second, anchor2 = build_prompt(typed, offset + 7, budget, words, anchor)
    assert anchor2 == anchor
    assert second.prefix == first.prefix and second.suffix == first.suffix
    assert second.middle == "x = 1\ny"


def test_anchor_moves_in_a_large_step_once_the_cursor_leaves_its_range() -> None:
    budget = PromptBudget(30, 9)
    _, anchor = build_prompt(SOURCE, SOURCE.index("line50"), budget, words)
    far = SOURCE.index(f"line{50 + MAX_MIDDLE_LINES + 1}")
    prompt, moved = build_prompt(SOURCE, far, budget, words, anchor)
    assert moved.line == 50 + MAX_MIDDLE_LINES + 1
    assert prompt.middle == ""
    back = SOURCE.index("line10")
    _, moved_back = build_prompt(SOURCE, back, budget, words, moved)
    assert moved_back.line == 10 and moved_back.start_line <= 10


def test_cursor_at_document_edges() -> None:
    prompt, _ = build_prompt("", 0, PromptBudget(), words)
    assert (prompt.prefix, prompt.middle, prompt.suffix) == ("", "", "")
    prompt, _ = build_prompt("abc", 3, PromptBudget(), words)
    assert (prompt.middle, prompt.suffix) == ("abc", "")


def test_extra_chunks_respect_their_budget() -> None:
    chunks = extra_chunks([("a.py", "one two\nthree\n"), ("b.py", "four five six\n")], 3, words)
    assert [c.path for c in chunks] == ["a.py"] and chunks[0].text == "one two\nthree\n"


def test_indentation_healing() -> None:
    from lsp_server.context.types import Prompt
    from lsp_server.context.window import heal_indentation

    healed, indent = heal_indentation(Prompt("def f():\n", "\n", "    "))
    assert (healed.middle, indent) == ("", "    ")
    same, none = heal_indentation(Prompt("", "", "    x = "))
    assert none == "" and same.middle == "    x = "
