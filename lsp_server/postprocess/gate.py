"""The gate stage: a suggestion must not break code that parsed, nor add errors to code that had
some. When the whole suggestion fails, the longest head of it (whole lines) that passes is kept;
when none does, nothing is shown.

Only the enclosing top-level region is parsed (from the last line at column 0 above the cursor
to the next one below), within `MAX_REGION` characters on each side, and at most `MAX_TRIES`
heads are tried, so a 5 MB buffer costs what one function costs. Python is parsed by the standard
`ast`; JavaScript/TypeScript, Go, Rust, Java and C/C++ by tree-sitter (`treesitter`). A language
the gate cannot parse lets every suggestion through unchanged.
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from lsp_server.postprocess.treesitter import error_finder

MAX_REGION = 50_000  # characters on each side of the cursor
MAX_TRIES = 8  # heads tried after the whole suggestion failed (longest first)


@dataclass(frozen=True)
class ParseError:
    """Where parsing failed, as distances from both ends of the parsed region, so the same error
    is recognised whether it sits above the suggestion or below it."""

    from_start: int
    from_end: int


# A parser returns None when the text parses, the first error otherwise; it raises
# `CannotJudge` when it cannot tell (the text is too deep, too big, not a language it knows).
Parser = Callable[[str], "ParseError | None"]


class CannotJudge(Exception):
    pass


def _python(text: str) -> ParseError | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning for odd escapes is not our business
            ast.parse(text)
    except SyntaxError as err:
        if err.lineno is None:
            raise CannotJudge from err
        lines = text.split("\n")
        line = min(max(err.lineno, 1), len(lines)) - 1
        pos = sum(len(ln) + 1 for ln in lines[:line]) + max((err.offset or 1) - 1, 0)
        pos = min(pos, len(text))
        return ParseError(pos, len(text) - pos)
    except (ValueError, RecursionError, MemoryError, OverflowError) as err:
        raise CannotJudge from err
    return None


@cache
def parser_for(language: str) -> Parser | None:
    """The gate's parser for an LSP languageId, or None when it has none."""
    if language == "python":
        return _python
    first_error = error_finder(language)
    if first_error is None:
        return None

    def parse(text: str) -> ParseError | None:
        try:
            pos = first_error(text)
        except ValueError as err:
            raise CannotJudge from err
        return None if pos is None else ParseError(pos, len(text) - pos)

    return parse


def _top_level(line: str) -> bool:
    return bool(line) and not line[0].isspace() and not line.startswith(("#", ")", "]", "}"))


def region(before: str, after: str) -> tuple[str, str]:
    """The top-level statement around the cursor: back to the last line starting at column 0
    above it (the cursor line included) and on to the next such line below."""
    before, after = before[-MAX_REGION:], after[:MAX_REGION]
    start = 0
    line_end = len(before)
    while line_end >= 0:
        line_start = before.rfind("\n", 0, line_end) + 1
        if _top_level(before[line_start:line_end] if line_end < len(before) else before[line_start:]):
            start = line_start
            break
        if line_start == 0:
            break
        line_end = line_start - 1
    end = len(after)
    nl = after.find("\n")
    while nl >= 0:
        nxt = after.find("\n", nl + 1)
        if _top_level(after[nl + 1 : nxt if nxt >= 0 else len(after)]):
            end = nl
            break
        nl = nxt
    return before[start:], after[:end]


def _same(a: ParseError, b: ParseError, cursor_from_start: int) -> bool:
    """The same error before and after: at the same place above the cursor, or below it."""
    if a.from_start < cursor_from_start:
        return a.from_start == b.from_start
    return a.from_end == b.from_end


def passes(parser: Parser, before: str, suggestion: str, after: str, baseline: ParseError | None) -> bool:
    err = parser(before + suggestion + after)
    if err is None:
        return True
    return baseline is not None and _same(baseline, err, len(before))


def with_body(suggestion: str, last: str) -> str:
    """``suggestion`` with a placeholder body (``pass``, one level deeper than ``last``, its last
    line as the buffer will have it) under it, for a suggestion the time budget ended right after
    a Python block opener. The user writes that body next (or the next request suggests it): the
    gate judges everything else as usual."""
    lead = last[: len(last) - len(last.lstrip(" \t"))]
    return suggestion + "\n" + lead + ("\t" if lead.endswith("\t") else "    ") + "pass"


def gate(suggestion: str, before: str, after: str, language: str) -> str:
    """The suggestion, its longest passing head (whole lines), or "" (see the module docstring).

    ``before`` and ``after`` are the buffer text on each side of where the suggestion goes.
    """
    parser = parser_for(language)
    if parser is None or not suggestion:
        return suggestion
    before, after = region(before, after)
    try:
        baseline = parser(before + after)
        if passes(parser, before, suggestion, after, baseline):
            return suggestion
        ends = [i for i, c in enumerate(suggestion) if c == "\n"]
        for end in list(reversed(ends))[:MAX_TRIES]:
            head = suggestion[:end]
            if head.strip() and passes(parser, before, head, after, baseline):
                return head
    except CannotJudge:
        return suggestion
    return ""
