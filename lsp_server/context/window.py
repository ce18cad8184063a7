"""Cut the text around the cursor into prefix / middle / suffix windows on token budgets.

Windows end at line boundaries. The prefix window is *anchored*: its start line and its end
line (the anchor) stay put while the user types nearby, and move only in large steps. Text
between the anchor and the cursor goes in ``Prompt.middle``, after the FIM middle token, so the
token sequence before it is identical from one keystroke to the next and the KV cache holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from lsp_server.context.header import SCAN_LINES, import_header
from lsp_server.context.types import ExtraChunk, Prompt
from lsp_server.documents import line_of, line_starts

TokenCounter = Callable[[str], int]

# Typing more than this many lines below the anchor moves it (one suffix re-evaluation).
MAX_MIDDLE_LINES = 12
# The prefix window may grow to this multiple of its budget before its start moves.
PREFIX_SLACK = 1.5
# Text longer than this many characters per token of budget is over budget without being
# tokenized: every window is bounded in characters too, so a 200,000-character line or a 5 MB
# file costs what a function costs (code averages 3-4 characters per token).
MAX_TOKEN_CHARS = 16


@dataclass(frozen=True)
class PromptBudget:
    prefix_tokens: int = 384
    suffix_tokens: int = 384
    import_tokens: int = 0  # the file's import statements above the window (context/header.py)


@dataclass(frozen=True)
class Anchor:
    """Where the last prompt for a document split its text: reused while it still fits."""

    start_line: int  # first line of the prefix window
    line: int  # first line of the middle (the prefix ends just before it)


def _fits(piece: str, budget: int, count: TokenCounter) -> bool:
    return budget >= 0 and len(piece) <= budget * MAX_TOKEN_CHARS and count(piece) <= budget


def _lines_within(pieces: Iterator[str], budget: int, count: TokenCounter, used: int = 0) -> tuple[int, int]:
    """How many of ``pieces`` (whole lines, in the order a window grows) fit in ``budget`` tokens
    with ``used`` already spent, and the tokens then used. A line too long in characters is
    over budget without being counted (see MAX_TOKEN_CHARS)."""
    n = 0
    for piece in pieces:
        if len(piece) > (budget - used) * MAX_TOKEN_CHARS:
            break
        cost = count(piece)
        if used + cost > budget:
            break
        used += cost
        n += 1
    return n, used


def _line(text: str, starts: list[int], i: int) -> str:
    return text[starts[i] : starts[i + 1] if i + 1 < len(starts) else len(text)]


def _prefix_start(text: str, starts: list[int], end_line: int, budget: int, count: TokenCounter) -> int:
    """First line such that lines [start, end_line) fit ``budget`` tokens (at least 0 lines)."""
    taken, _ = _lines_within((_line(text, starts, i) for i in range(end_line - 1, -1, -1)), budget, count)
    return end_line - taken


def _suffix_end(text: str, starts: list[int], offset: int, budget: int, count: TokenCounter) -> int:
    """End offset of the suffix window: the rest of the cursor line, then whole lines in budget."""
    line = line_of(starts, offset)
    end = starts[line + 1] if line + 1 < len(starts) else len(text)
    if not _fits(text[offset:end], budget, count):  # a long line: as much of its rest as fits
        return offset + len(_head(text[offset:end], budget, count))
    pieces = (_line(text, starts, i) for i in range(line + 1, len(starts)))
    taken, _ = _lines_within(pieces, budget, count, count(text[offset:end]))
    last = line + taken  # the last line in the window
    return starts[last + 1] if last + 1 < len(starts) else len(text)


def choose_anchor(
    text: str, starts: list[int], cursor_line: int, budget: PromptBudget, count: TokenCounter, previous: Anchor | None
) -> Anchor:
    """Keep the previous anchor while the cursor stays a few lines below it; else re-anchor."""
    if previous is not None and previous.line <= cursor_line <= previous.line + MAX_MIDDLE_LINES:
        line = previous.line
    else:
        line = cursor_line
    if previous is not None and previous.start_line <= line:
        kept = text[starts[previous.start_line] : starts[line]]
        if _fits(kept, int(budget.prefix_tokens * PREFIX_SLACK), count):
            return Anchor(previous.start_line, line)
    return Anchor(_prefix_start(text, starts, line, budget.prefix_tokens, count), line)


def build_prompt(
    text: str,
    offset: int,
    budget: PromptBudget,
    count: TokenCounter,
    previous: Anchor | None = None,
    path: str = "",
    repo: str = "",
    language_id: str = "",
    extra: tuple[ExtraChunk, ...] = (),
) -> tuple[Prompt, Anchor]:
    """The prompt for a cursor at string index ``offset`` of ``text``, and the anchor it used."""
    offset = max(0, min(offset, len(text)))
    starts = line_starts(text)
    cursor_line = line_of(starts, offset)
    anchor = choose_anchor(text, starts, cursor_line, budget, count, previous)
    middle = text[starts[anchor.line] : offset]
    if len(middle) > budget.prefix_tokens and not _fits(middle, budget.prefix_tokens, count):
        # Long lines above the cursor: start at the cursor line. Still too long (a minified
        # file): the middle is the end of the cursor line alone, and fills the prefix budget.
        anchor = choose_anchor(text, starts, cursor_line, budget, count, None)
        middle = text[starts[cursor_line] : offset]
        if not _fits(middle, budget.prefix_tokens, count):
            anchor = Anchor(cursor_line, cursor_line)
            middle = _tail(middle, budget.prefix_tokens, count)
    prefix = text[starts[anchor.start_line] : starts[anchor.line]]
    if budget.import_tokens and anchor.start_line:
        above = [_line(text, starts, i) for i in range(min(anchor.start_line, SCAN_LINES))]
        prefix = import_header(above, language_id, budget.import_tokens, count) + prefix
    suffix = text[offset : _suffix_end(text, starts, offset, budget.suffix_tokens, count)]
    prompt = Prompt(prefix, suffix, middle, path, repo, language_id, extra)
    return prompt, anchor


# Steps of the cut in an over-long line, in characters per token of budget: fine enough that the
# window is nearly full (dense minified text packs 2-3 characters per token, so a step of 1/8
# of the character bound left a 384-token window with 167), coarse enough that typing at the
# line's end moves the cut (and re-evaluates the window) only every few dozen characters.
FINE_STEPS = 64
GALLOP = 8  # fine steps per coarse step while searching


def _tail(text: str, budget: int, count: TokenCounter) -> str:
    """The longest end of ``text`` within budget that starts at a multiple of a fixed step from
    its start, so it changes only every step characters while the user types at its end."""
    fine = max(1, budget * MAX_TOKEN_CHARS // FINE_STEPS)
    cut = max(0, len(text) - budget * MAX_TOKEN_CHARS)
    cut = -(-cut // fine) * fine
    over: int | None = None  # the last cut found over budget
    while cut < len(text) and count(text[cut:]) > budget:  # coarse steps, then fine ones after
        over, cut = cut, cut + fine * GALLOP
    if over is not None:
        cut = over + fine
        while cut < len(text) and count(text[cut:]) > budget:
            cut += fine
    return text[cut:]


def _head(text: str, budget: int, count: TokenCounter) -> str:
    """The longest start of ``text`` within budget, to a step of characters."""
    fine = max(1, budget * MAX_TOKEN_CHARS // FINE_STEPS)
    end = min(len(text), budget * MAX_TOKEN_CHARS)
    over: int | None = None  # the last end found over budget
    while end > 0 and count(text[:end]) > budget:
        over, end = end, end - fine * GALLOP
    if over is not None:
        end = over - fine
        while end > 0 and count(text[:end]) > budget:
            end -= fine
    return text[: max(0, end)]


def extra_chunks(
    others: list[tuple[str, str]], budget: int, count: TokenCounter
) -> tuple[ExtraChunk, ...]:
    """Other files as repository context: each file's head, most relevant first, within budget."""
    chunks: list[ExtraChunk] = []
    left = budget
    for path, text in others:
        if left <= 0:
            break
        starts = line_starts(text)
        end_line, used = _lines_within((_line(text, starts, i) for i in range(len(starts))), left, count)
        if end_line:
            end = starts[end_line] if end_line < len(starts) else len(text)
            chunks.append(ExtraChunk(path, text[:end]))
            left -= used
    return tuple(chunks)


def heal_indentation(prompt: Prompt) -> tuple[Prompt, str]:
    """Move trailing indentation of a whitespace-only cursor line out of the prompt.

    BPE vocabularies merge runs of spaces with the next word (``"   " + " return"``), so a
    prompt ending in a bare ``"    "`` token makes the model emit ``" return"`` and indent one
    space too far (measured on Qwen2.5-Coder). The model writes the indentation itself instead
    (the first line is kept to an allowed column: `pipeline.prepare`), and the suggestion's edit
    replaces the whitespace before the cursor with it (`postprocess.finish`).
    """
    tail = prompt.middle[prompt.middle.rfind("\n") + 1 :]
    if not tail or tail.strip(" \t"):
        return prompt, ""
    cut = len(prompt.middle) - len(tail)
    return replace(prompt, middle=prompt.middle[:cut]), tail


def open_line(text: str, offset: int) -> tuple[str, str]:
    """At a cursor with only whitespace before it and code after it on its line (the start of an
    existing line), the user is adding lines above that code: complete as if a line had been
    opened there. Returns the text to complete in (the cursor offset is unchanged) and the tail
    each suggestion must end with to keep the code after the cursor where it was ("" when the
    cursor is anywhere else)."""
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    before = text[line_start:offset]
    after = text[offset : line_end if line_end >= 0 else len(text)]
    if before.strip(" \t") or not after.strip():
        return text, ""
    tail = "\n" + before
    return text[:offset] + tail + text[offset:], tail
