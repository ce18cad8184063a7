"""Turn raw model text into a suggestion worth showing. Pure: no pygls, no model.

Rules, each with golden cases in tests/golden/postprocess/:
- single_line: when non-blank text stands right of the cursor, keep only the first line;
- block_exit: stop a multi-line suggestion when the indentation leaves the current block;
- suffix_echo: cut whatever repeats the text after the cursor;
- deadline: a suggestion cut by the time budget ends at its last complete line;
- blank: drop empty or whitespace-only suggestions.
The same cut points also stop generation early (``should_stop``), so no token is wasted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

_OPENERS = ":{(["
_CLOSERS = "})]"


@dataclass(frozen=True)
class CursorContext:
    line_before: str  # the cursor line up to the cursor
    line_after: str  # the cursor line after the cursor
    next_lines: tuple[str, ...] = ()  # a few lines after the cursor line
    multiline: bool = True

    @classmethod
    def from_text(cls, before: str, after: str, multiline_setting: str = "auto") -> CursorContext:
        line_before = before[before.rfind("\n") + 1 :]
        nl = after.find("\n")
        line_after = after if nl < 0 else after[:nl]
        rest = "" if nl < 0 else after[nl + 1 :]
        next_lines = tuple(rest.split("\n")[:8]) if rest else ()
        return cls(line_before, line_after, next_lines, decide_multiline(multiline_setting, line_after))


def decide_multiline(setting: str, line_after: str) -> bool:
    """Multi-line only where the rest of the line is empty: mid-line, a suggestion is one line."""
    if setting == "never":
        return False
    if setting == "always":
        return True
    return line_after.strip() == ""


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _first_nonblank(lines: tuple[str, ...] | list[str]) -> str:
    return next((ln for ln in lines if ln.strip()), "")


def _block_indent(lines: list[str]) -> int:
    """Indentation that lines of the suggestion must keep to stay in the cursor's block."""
    first = lines[0]
    if first.rstrip().endswith(tuple(_OPENERS)):
        body = next((ln for ln in lines[1:] if ln.strip()), None)
        if body is not None:
            return _indent(body)
        return _indent(first) + 1
    return _indent(first)


def _is_closer_line(line: str) -> bool:
    core = line.strip().rstrip(";,")
    return bool(core) and all(c in _CLOSERS for c in core)


def find_cut(text: str, ctx: CursorContext, final: bool = False) -> int | None:
    """Index in ``text`` where the suggestion must end, or None if it may go on.

    While streaming (``final=False``) the last line may be incomplete, so rules that need a
    whole line only judge complete ones.
    """
    if not ctx.multiline:
        nl = text.find("\n")
        return nl if nl >= 0 else None
    lines = (ctx.line_before + text).split("\n")
    if len(lines) == 1:
        return None
    block = _block_indent(lines)
    echo = _first_nonblank(ctx.next_lines).strip()
    pos = len(lines[0]) - len(ctx.line_before)  # index in text where lines[1] starts, minus 1
    for i, line in enumerate(lines[1:], start=1):
        complete = i < len(lines) - 1 or final
        cut_at = pos  # the newline before this line
        pos += 1 + len(line)
        if not line.strip():
            continue
        if echo and complete and line.strip() == echo:
            return cut_at
        if _indent(line) < block:
            if _is_closer_line(line) and _indent(line) == _indent(lines[0]) and not echo.startswith(line.strip()):
                if complete:
                    return pos  # keep the closing bracket line, stop after it
                continue
            return cut_at
    return None


def should_stop(ctx: CursorContext) -> Callable[[str], bool]:
    return lambda text: find_cut(text, ctx) is not None


def _trim_right_echo(text: str, line_after: str) -> str:
    """Drop the end of a one-line suggestion that repeats the text right of the cursor."""
    right = line_after.strip()
    if not right:
        return text
    body = text.rstrip()
    if all(c in _CLOSERS + ";:, " for c in right):
        # "f(x)" before ")" is whole; "f(x))" repeats it. Decide by bracket balance.
        depth = sum(body.count(c) for c in "([{") - sum(body.count(c) for c in ")]}")
        for k in range(min(len(body), len(right)), 0, -1):
            tail = body[-k:]
            closers = sum(tail.count(c) for c in ")]}")
            if right.startswith(tail) and (depth < 0 and closers <= -depth or closers == 0):
                return body[:-k]
        return text
    if body.endswith(right):
        return body[: len(body) - len(right)]
    return text


def clean(text: str, ctx: CursorContext, stop_reason: str = "eos") -> str:
    """The suggestion to show for raw model output, or "" when there is nothing worth showing."""
    cut = find_cut(text, ctx, final=True)
    if cut is not None:
        text = text[:cut]
    if stop_reason == "deadline":
        # Out of time mid-line: keep the complete lines only; a half line is no suggestion.
        text = text[: text.rfind("\n")] if "\n" in text else ""
    if not ctx.multiline or "\n" not in text:
        text = _trim_right_echo(text, ctx.line_after)
    text = text.rstrip()
    if not ctx.line_before.strip() and not text.strip():
        return ""
    return text if text.strip() else ""
