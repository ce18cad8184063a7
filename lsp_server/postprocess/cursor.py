"""What the cut and gate stages know about the cursor: its line, the code around it, and the
block structure that a suggestion has to fit into. Pure: no pygls, no model."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

WINDOW_LINES = 24  # lines kept below the cursor for the structural rules
PREV_CHARS = 64_000  # text above the cursor line read for its statements, at most
# Languages where indentation is syntax: a suggestion's indentation decides where it belongs.
INDENT_LANGUAGES = frozenset({"python"})
_PY_OPENER_ENDS = (":",)
_BRACE_OPENER_ENDS = ("{", "(", "[")
_DEF = re.compile(r"\s*(async\s+def|def|class)\s")
# Statements after which nothing in the same block runs.
FLOW_ENDS = ("return", "raise", "break", "continue")
# Lines that continue the statement above them rather than follow it.
_CLAUSE = re.compile(r"(else|elif|except|finally)\b")


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


def _top_level_start(before: str, end: int) -> int:
    """Where the top-level statement around the cursor starts (the last line at column 0 that
    is code), so statements are read from a clean start, not from inside a string."""
    lo = max(0, end - PREV_CHARS)
    pos = end
    while pos > lo:
        start = before.rfind("\n", lo, pos - 1) + 1
        if start <= lo and lo > 0:
            break
        line = before[start:pos]
        if line[:1] and not line[0].isspace() and line[0] not in "#)]}\"'":
            return start
        pos = start
    return before.find("\n", lo) + 1 if lo else 0


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def ends_flow(line: str) -> bool:
    """Does this line end the flow of its block (nothing after it in the block runs)?"""
    word = re.match(r"\w*", line.lstrip()).group()  # type: ignore[union-attr]
    return word in FLOW_ENDS


@dataclass(frozen=True)
class Statement:
    """One statement, which may span lines (open brackets, a triple-quoted string)."""

    indent: int
    first: str  # its first line
    last: str  # its last line (where a block opener ends with its colon)
    docstring: bool = False  # a string literal alone: a docstring where it opens a body


def _after_string(line: str, i: int) -> int:
    """Where a one-line string opened at ``line[i]`` ends (past its closing quote; escapes
    skipped), or past the line's end when it is not closed there."""
    j = i + 1
    while j < len(line) and line[j] != line[i]:
        j += 2 if line[j] == "\\" else 1
    return j + 1


def _scan(line: str, depth: int, quote: str | None) -> tuple[int, str | None]:
    """Bracket depth and open triple quote after ``line``; strings and comments are skipped."""
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if quote is not None:
            if line.startswith(quote, i):
                i, quote = i + 3, None
            else:
                i += 2 if c == "\\" else 1
            continue
        if c == "#":
            break
        if line.startswith(('"""', "'''"), i):
            quote, i = line[i : i + 3], i + 3
        elif c in "\"'":
            i = _after_string(line, i)
        else:
            depth += c in "([{"
            depth = max(0, depth - (c in ")]}"))
            i += 1
    return depth, quote


def _brace_scan(lines: tuple[str, ...] | list[str]) -> tuple[str, bool]:
    """Open brackets (innermost last) after ``lines`` of a C-like language, and whether a block
    comment or a template string is still open; strings and line comments are skipped."""
    stack: list[str] = []
    open_until: str | None = None  # "*/" or "`" while inside one
    for line in lines:
        i, n = 0, len(line)
        while i < n:
            if open_until is not None:
                j = line.find(open_until, i)
                if j < 0:
                    break
                i, open_until = j + len(open_until), None
                continue
            c = line[i]
            if line.startswith("//", i):
                break
            if line.startswith("/*", i):
                open_until, i = "*/", i + 2
            elif c == "`":
                open_until, i = "`", i + 1
            elif c in "\"'":
                i = _after_string(line, i)
            else:
                if c in "([{":
                    stack.append(c)
                elif c in ")]}" and stack:
                    stack.pop()
                i += 1
    return "".join(stack), open_until is not None


def continues(lines: tuple[str, ...] | list[str], logical: bool) -> bool:
    """Does the line after ``lines`` continue a statement begun above it: inside an open
    bracket (a signature's parameters, a call's arguments, a literal), a string or comment (a
    docstring), or after a backslash? Brace blocks ``{`` do not count outside an indentation
    language: they hold statements."""
    if logical:
        depth, quote = 0, None
        for line in lines:
            depth, quote = _scan(line, depth, quote)
        last = next((ln for ln in reversed(lines) if ln.strip()), "")
        return bool(depth or quote) or last.rstrip().endswith("\\")
    stack, inside = _brace_scan(lines)
    return inside or stack[-1:] in ("(", "[")


def left_open(lines: tuple[str, ...] | list[str], logical: bool) -> bool:
    """Is a bracket, string or comment opened in ``lines`` (text from a line's start) still open
    after them? Closers of brackets opened above are ignored. Unlike `continues`, a brace
    block counts: a suggestion that opened one is not complete until it closes it."""
    if logical:
        return continues(lines, True)
    stack, inside = _brace_scan(lines)
    return bool(stack) or inside


def statements(lines: tuple[str, ...] | list[str], logical: bool) -> tuple[Statement, ...]:
    """Non-blank lines grouped into statements, comments left out. With ``logical`` (an
    indentation language) lines inside open brackets or a triple-quoted string, or after a
    backslash, belong to the statement they continue; otherwise each line is its own."""
    out: list[Statement] = []
    depth, quote = 0, None
    first: str | None = None
    for line in lines:
        if first is None:
            if not line.strip() or (logical and _is_comment(line)):
                continue
            first = line
        if logical:
            depth, quote = _scan(line, depth, quote)
            if depth or quote or line.rstrip().endswith("\\"):
                continue
        doc = logical and first.lstrip().lstrip("rRbBuUfF").startswith(('"', "'")) and first is not None
        out.append(Statement(indent_of(first), first, line, bool(doc)))
        first = None
    if first is not None:  # unfinished (the user is typing it, or the window cut it)
        out.append(Statement(indent_of(first), first, lines[-1]))
    return tuple(out)


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
    # The whitespace before the cursor that ``before`` leaves out (the prompt's healed
    # indentation, see `pipeline.prepare`): where the user's cursor stood on a blank line.
    column: int = 0

    @classmethod
    def from_text(cls, before: str, after: str, multiline_setting: str = "auto", language: str = "",
                  column: int = 0) -> CursorContext:  # fmt: skip
        cut = before.rfind("\n")
        line_before = before[cut + 1 :]
        prev = tuple(before[_top_level_start(before, cut) : cut].split("\n")) if cut >= 0 else ()
        nl = after.find("\n")
        line_after = after if nl < 0 else after[:nl]
        rest = "" if nl < 0 else after[nl + 1 :]
        next_lines = tuple(rest.split("\n")[:WINDOW_LINES]) if rest else ()
        return cls(line_before, line_after, next_lines, decide_multiline(multiline_setting, line_after),
                   prev, language, before, after, column)  # fmt: skip

    # -- structure ---------------------------------------------------------------------------

    @property
    def indent_sensitive(self) -> bool:
        return self.language in INDENT_LANGUAGES

    @property
    def at_blank_line(self) -> bool:
        """A whitespace-only line: the model chooses the indentation of what it writes."""
        return not self.line_before.strip() and not self.line_after.strip()

    @cached_property
    def continued(self) -> bool:
        """The cursor line continues a statement from above (see `continues`): block rules do
        not apply to it."""
        return continues(self.prev_lines, self.indent_sensitive)

    @property
    def _structural(self) -> bool:
        """A blank line where a statement of an indentation language starts."""
        return self.indent_sensitive and self.at_blank_line and not self.continued

    @cached_property
    def statements(self) -> tuple[Statement, ...]:
        """The statements above the cursor line, oldest first (see `statements`)."""
        return statements(self.prev_lines, self.indent_sensitive)

    @cached_property
    def next_code(self) -> str | None:
        """The first line of code below the cursor line (comment lines skipped in an
        indentation language: their indentation says nothing)."""
        return first_code([ln for ln in self.next_lines if not (self.indent_sensitive and _is_comment(ln))])

    @property
    def prev_code(self) -> str | None:
        """The first line of the last statement above the cursor line."""
        return self.statements[-1].first if self.statements else None

    def opens_block(self, line: str) -> bool:
        """True for a line after which the next statement is indented one level deeper."""
        code = line.split("#", 1)[0].rstrip() if self.indent_sensitive else line.rstrip()
        ends = _PY_OPENER_ENDS if self.indent_sensitive else _BRACE_OPENER_ENDS
        return code.endswith(ends)

    def _opens(self, st: Statement) -> bool:
        return self.opens_block(st.last)

    @cached_property
    def _levels(self) -> tuple[int, ...]:
        out: list[int] = []
        for st in reversed(self.statements):
            if not out or st.indent < out[-1]:
                out.append(st.indent)
            if st.indent == 0:
                break
        return tuple(out)

    def levels(self) -> tuple[int, ...]:
        """Indentations where a new statement may start after the last statement above: its
        own, and each enclosing block's (its ancestors are the nearest statements above with
        less indentation). Deepest first; () when there is no code above."""
        return self._levels

    @cached_property
    def _bodiless(self) -> int | None:
        sts = self.statements
        if not sts:
            return None
        if self._opens(sts[-1]):
            return sts[-1].indent
        if self.indent_sensitive and sts[-1].docstring and len(sts) > 1 and self._opens(sts[-2]):
            return sts[-2].indent
        return None

    def bodiless_opener(self) -> int | None:
        """Indentation of a block opener above the cursor that has no statement yet (only,
        perhaps, its docstring), or None."""
        return self._bodiless

    def _body_indent(self, opener: int) -> int:
        """Where the empty body of the opener above starts: at its docstring when it has one
        (files mix steps: a two-space ``if`` body under a four-space docstring), else one
        indentation step in."""
        last = self.statements[-1]
        if last.docstring and last.indent > opener:
            return last.indent
        return opener + self.unit()

    def allowed_indents(self) -> tuple[int, ...] | None:
        """Where the first line of a suggestion may start at a blank line of an indentation
        language, deepest first; None when anything goes (or it is not such a line)."""
        if not self._structural or self.prev_code is None:
            return None
        opener = self.bodiless_opener()
        if opener is not None:
            return (self._body_indent(opener),)
        levels = self.levels()  # not empty: there is a statement above
        below = None if self.next_code is None else indent_of(self.next_code)
        if below is None:
            found: tuple[int, ...] | None = levels
        elif self.next_is_placed():
            found = tuple(lv for lv in levels if lv >= below) or None
        else:
            found = tuple(lv for lv in levels if lv < below) or None
        return self._at_users_dedent(found, levels, below)

    def _at_users_dedent(self, found: tuple[int, ...] | None, levels: tuple[int, ...], below: int | None) -> tuple[int, ...] | None:
        """``found`` where the user dedented: a cursor left of the deepest level the code above
        allows (where editors indent after Enter) was put there on purpose (Backspace after a
        block, an ``except`` to come), so the first line starts there or further left; where the
        line below is deeper, at the cursor, opening its block. Unchanged at column 0 (the model
        places the line) and where the cursor stands at the column of the code below it: a line
        opened above that code (Vim's ``O``, VS Code's Insert Line Above) copies its indentation,
        which says nothing of the user's."""
        column = self.column + len(self.line_before)  # a blank line: all of it is whitespace
        if found is None or not column or column >= levels[0] or column == below:
            return found
        kept = tuple(lv for lv in found if lv <= column)
        if kept:
            return kept
        return (column,) if column in levels else found  # the line below waits for this one's block

    def needs_code(self) -> bool:
        """A statement is missing here: a block has no body, or the line below waits for its
        opener."""
        if not self._structural or self.prev_code is None:
            return False
        return self.bodiless_opener() is not None or not self.next_is_placed()

    def dead_ends(self) -> tuple[int, ...]:
        """Indentations at which a `return`/`raise`/`break`/`continue` cannot be right: the next
        code line's, when it is a statement of its own (it would never run), or, when that line
        waits for an opener at the cursor, every level left of it (the opener is missing). A model
        often writes the function's last line where one line in the middle is missing."""
        if not self._structural or self.next_code is None:
            return ()
        code = self.next_code.lstrip()
        if _CLAUSE.match(code) or code[0] in ")]}":
            return ()
        n = indent_of(self.next_code)
        if self.statements and not self.next_is_placed():
            return tuple(lv for lv in self.levels() if lv < n)
        return (n,)

    @cached_property
    def _scope(self) -> int:
        if not self.indent_sensitive:
            return 0
        sts = self.statements
        limit: int | None = None
        for k in range(len(sts) - 1, -1, -1):
            st = sts[k]
            if limit is not None and st.indent >= limit:
                continue
            limit = st.indent
            if _DEF.match(st.first):
                # Its body's own indentation where a statement of it is above (files mix steps).
                if k + 1 < len(sts) and sts[k + 1].indent > st.indent:
                    return sts[k + 1].indent
                return st.indent + self.unit()
            if st.indent == 0:
                break
        return 0

    def scope_floor(self) -> int:
        """The indentation of the body of the innermost function or class around the cursor (0
        outside any): a suggestion that goes left of it has left the definition it was in."""
        return self._scope

    @cached_property
    def _unit(self) -> int:
        steps = []
        last: int | None = None
        below = [ln for ln in self.next_lines if ln.strip() and not (self.indent_sensitive and _is_comment(ln))]
        for ind in [st.indent for st in self.statements] + [indent_of(ln) for ln in below]:
            if last is not None and ind > last:
                steps.append(ind - last)
            last = ind
        return min(steps) if steps else 4

    def unit(self) -> int:
        """The file's indentation step: the smallest increase between statements around the
        cursor (4 when there is none)."""
        return self._unit

    def next_is_placed(self) -> bool:
        """True when the line below already fits where it is (its block does not wait for a
        missing opener line at the cursor): then no suggestion may take it into a new block.
        One level deeper than an opener above is its body; two levels deeper is not placed,
        although Python would parse it; nor is a line that a `return`/`raise`/`break`/
        `continue` above would leave unreachable (at its level or deeper)."""
        nxt = self.next_code
        if nxt is None or not self.statements:
            return True
        last = self.statements[-1]
        n, p = indent_of(nxt), last.indent
        if self._opens(last) and n > p:
            return n <= p + self.unit()  # the block's body is below
        if self.indent_sensitive and ends_flow(last.first) and n >= p:
            return False  # dead code as it stands: the line that leads into it is missing
        return n in self.levels()
