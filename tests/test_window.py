from __future__ import annotations

from lsp_server.context.window import (
    MAX_MIDDLE_LINES,
    MAX_TOKEN_CHARS,
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


class CountingWords:
    """`words`, and how many characters it was asked to count (the window's tokenizing work)."""

    def __init__(self) -> None:
        self.chars = 0

    def __call__(self, text: str) -> int:
        self.chars += len(text)
        return words(text)


MINIFIED = "var a=1;" + " ".join(f"f{i}(x);" for i in range(28_000))  # one ~200,000-character line
WORK = 20 * (384 + 128) * MAX_TOKEN_CHARS  # characters tokenized for one prompt, at most


def test_a_200k_character_line_gives_a_bounded_prompt_and_bounded_work() -> None:
    budget = PromptBudget(384, 128)
    text = "import x\n" * 50 + MINIFIED + "\nend()\n"
    offset = text.index("\nend()")  # the end of the long line
    count = CountingWords()
    prompt, anchor = build_prompt(text, offset, budget, count)
    assert words(prompt.prefix + prompt.middle) <= 384 and words(prompt.suffix) <= 128
    assert len(prompt.prefix + prompt.middle + prompt.suffix) <= (384 + 128) * MAX_TOKEN_CHARS
    assert prompt.middle and text[:offset].endswith(prompt.middle)
    assert count.chars < WORK
    # Typing at its end keeps the start of the middle (the KV cache holds) for most keystrokes.
    starts = set()
    for typed in range(1, 40):
        more = text[:offset] + "y" * typed + text[offset:]
        p, anchor = build_prompt(more, offset + typed, budget, words, anchor)
        starts.add(offset + typed - len(p.middle))
    assert len(starts) <= 2


def test_the_rest_of_a_long_cursor_line_is_cut_to_the_suffix_budget() -> None:
    count = CountingWords()
    prompt, _ = build_prompt(MINIFIED, 100, PromptBudget(384, 128), count)
    assert 0 < words(prompt.suffix) <= 128 and MINIFIED[100:].startswith(prompt.suffix)
    assert count.chars < WORK


def test_a_5mb_file_costs_what_a_window_costs() -> None:
    text = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(170_000))  # ~5 MB
    count = CountingWords()
    prompt, anchor = build_prompt(text, len(text) // 2, PromptBudget(384, 128), count)
    assert words(prompt.prefix) <= 384 and words(prompt.suffix) <= 128
    assert count.chars < WORK
    # A jump far from the previous anchor does not count the text in between.
    count = CountingWords()
    build_prompt(text, len(text) - 10, PromptBudget(384, 128), count, anchor)
    assert count.chars < WORK


def test_a_dense_minified_line_still_fills_its_window() -> None:
    """Two characters per token (minified code): the window cut from a 200,000-character line
    holds nearly its budget, wherever the line ends (a coarse step once left 167 of 384)."""
    from lsp_server.context.window import _head, _tail

    def dense(s: str) -> int:
        return len(s) // 2

    line = "".join(f"f{i}(x);" for i in range(30_000))
    for end in range(200_000, 201_000, 37):
        tail, head = _tail(line[:end], 384, dense), _head(line[end - 200_000 : end], 384, dense)
        assert 0.85 * 384 < dense(tail) <= 384 and 0.85 * 384 < dense(head) <= 384
