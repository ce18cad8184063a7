"""What the cut and gate stages know about the cursor: its line, the code around it, and the
block structure that a suggestion has to fit into. Pure: no pygls, no model."""

from __future__ import annotations

import re
from dataclasses import dataclass

WINDOW_LINES = 24  # lines kept below the cursor for the structural rules
PREV_LINES = 80  # ... and above it (a docstring can be long)
# Languages where indentation is syntax: a suggestion's indentation decides where it belongs.
INDENT_LANGUAGES = frozenset({"python"})
_PY_OPENER_ENDS = (":",)
_BRACE_OPENER_ENDS = ("{", "(", "[")
_DEF = re.compile(r"\s*(async\s+def|def|class)\s")


def indent_of(line: str) -> int:
    """Columns of leading whitespace (a tab counts as one: editors keep one style per file)."""
    return len(line) - len(line.lstrip(" \t"))


def first_code(lines: tuple[str, ...] | list[str]) -> str | None:
    return next((ln for ln in lines if ln.strip()), None)


def decide_multiline(setting: str, line_after: str) -> bool:
    """Multi-line only where the rest of the line is empty: mid-line, a suggestion is one line."""
    if setting == "never":
        return False
    if setting == "always":
        return True
    return line_after.strip() == ""


@dataclass(frozen=True)
class CursorContext:
    line_before: str  # the cursor line up to the cursor
    line_after: str  # the cursor line after the cursor
    next_lines: tuple[str, ...] = ()  # lines after the cursor line, nearest first
    multiline: bool = True
    prev_lines: tuple[str, ...] = ()  # lines before the cursor line, nearest last
    language: str = ""
    before: str = ""  # text before the cursor (a window of it), for the parse gate
    after: str = ""  # text after the cursor (a window of it)

    @classmethod
    def from_text(cls, before: str, after: str, multiline_setting: str = "auto", language: str = "") -> CursorContext:
        cut = before.rfind("\n")
        line_before = before[cut + 1 :]
        prev = tuple(before[max(0, cut - 16_000) : cut].split("\n")[-PREV_LINES:]) if cut >= 0 else ()
        nl = after.find("\n")
        line_after = after if nl < 0 else after[:nl]
        rest = "" if nl < 0 else after[nl + 1 :]
        next_lines = tuple(rest.split("\n")[:WINDOW_LINES]) if rest else ()
        return cls(line_before, line_after, next_lines, decide_multiline(multiline_setting, line_after),
                   prev, language, before, after)  # fmt: skip

    # -- structure ---------------------------------------------------------------------------

    @property
    def indent_sensitive(self) -> bool:
        return self.language in INDENT_LANGUAGES

    @property
    def at_blank_line(self) -> bool:
        """A whitespace-only line: the model chooses the indentation of what it writes."""
        return not self.line_before.strip() and not self.line_after.strip()

    @property
    def next_code(self) -> str | None:
        """The first non-blank line below the cursor line."""
        return first_code(self.next_lines)

    @property
    def prev_code(self) -> str | None:
        """The last non-blank line above the cursor line."""
        return first_code(self.prev_lines[::-1])

    def opens_block(self, line: str) -> bool:
        """True for a line after which the next statement is indented one level deeper."""
        code = line.split("#", 1)[0].rstrip() if self.indent_sensitive else line.rstrip()
        ends = _PY_OPENER_ENDS if self.indent_sensitive else _BRACE_OPENER_ENDS
        return code.endswith(ends)

    def levels(self) -> tuple[int, ...]:
        """Indentations where a new statement may start after the last code line above: that
        line's own, and each enclosing block's (its ancestors are the nearest lines above with
        less indentation). Deepest first; () when there is no code above."""
        out: list[int] = []
        for line in reversed(self.prev_lines):
            if not line.strip():
                continue
            ind = indent_of(line)
            if not out or ind < out[-1]:
                out.append(ind)
            if ind == 0:
                break
        return tuple(out)

    def bodiless_opener(self) -> int | None:
        """Indentation of a block opener above the cursor that has no statement yet (only,
        perhaps, its docstring), or None."""
        code = [ln for ln in self.prev_lines if ln.strip()]
        if not code:
            return None
        last = code[-1]
        if self.opens_block(last):
            return indent_of(last)
        if not self.indent_sensitive:
            return None
        stripped = last.strip()
        quote = stripped[-3:]
        if quote not in ('"""', "'''"):
            return None
        # Find the line that opened this docstring (the same quotes, earlier or on this line).
        start = len(code) - 1
        if not (len(stripped) >= 6 and stripped.lstrip("rRbBuU").startswith(quote)):
            start = next((i for i in range(len(code) - 2, -1, -1) if quote in code[i]), -1)
        if start <= 0 or not code[start].strip().lstrip("rRbBuU").startswith(quote):
            return None
        opener = code[start - 1]
        return indent_of(opener) if self.opens_block(opener) else None

    def allowed_indents(self) -> tuple[int, ...] | None:
        """Where the first line of a suggestion may start at a blank line of an indentation
        language, deepest first; None when anything goes (or it is not such a line)."""
        if not (self.indent_sensitive and self.at_blank_line) or self.prev_code is None:
            return None
        opener = self.bodiless_opener()
        if opener is not None:
            return (opener + self.unit(),)
        levels = self.levels()
        nxt = self.next_code
        if nxt is None:
            return levels
        n = indent_of(nxt)
        if self.next_is_placed():
            return tuple(lv for lv in levels if lv >= n) or None
        return tuple(lv for lv in levels if lv < n) or None

    def needs_code(self) -> bool:
        """A statement is missing here: a block has no body, or the line below waits for its
        opener."""
        if not (self.indent_sensitive and self.at_blank_line) or self.prev_code is None:
            return False
        return self.bodiless_opener() is not None or not self.next_is_placed()

    def scope_floor(self) -> int:
        """The indentation of the body of the innermost function or class around the cursor (0
        outside any): a suggestion that goes left of it has left the definition it was in."""
        if not self.indent_sensitive:
            return 0
        limit: int | None = None
        for line in reversed(self.prev_lines):
            if not line.strip():
                continue
            ind = indent_of(line)
            if limit is not None and ind >= limit:
                continue
            limit = ind
            if _DEF.match(line):
                return ind + self.unit()
            if ind == 0:
                break
        return 0

    def unit(self) -> int:
        """The file's indentation step: the smallest increase between code lines above (4 when
        there is none)."""
        steps = []
        last: int | None = None
        for line in (*self.prev_lines, *self.next_lines):
            if not line.strip():
                continue
            ind = indent_of(line)
            if last is not None and ind > last:
                steps.append(ind - last)
            last = ind
        return min(steps) if steps else 4

    def next_is_placed(self) -> bool:
        """True when the line below already fits where it is (its block does not wait for a
        missing opener line at the cursor): then no suggestion may take it into a new block.
        One level deeper than an opener above is its body; two levels deeper is not placed,
        although Python would parse it."""
        nxt = self.next_code
        prev = self.prev_code
        if nxt is None or prev is None:
            return True
        n, p = indent_of(nxt), indent_of(prev)
        if self.opens_block(prev) and n > p:
            return n <= p + self.unit()  # the block's body is below
        return n in self.levels()
