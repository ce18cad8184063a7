"""The cut stage: where a suggestion must end, judged from the text around the cursor.

Rules, each with golden cases in tests/golden/postprocess/<rule>.json:
- single_line: when non-blank text stands right of the cursor, keep only the first line;
- suffix_echo: stop where the suggestion meets the code below: the next line (compared without
  spacing), or a run of two lines that the file already has a little further down (after the
  suggestion's first line when the run starts there: files repeat code, and that line is what
  the hole was asked for);
- body_below: a line that opens a block whose body is already below (the next line is one level
  deeper, and not already another block's body) ends the suggestion. (Going on in the body, in
  case the hole holds more than the opener, tied with this on the development tasks, and the
  issue asks for the stop.)
- hole_floor: in an indentation language, a suggestion stays at or right of the next line's
  indentation when that line already fits where it is, so it never takes that line into a new
  block nor leaves one that the next line continues;
- first_indent: at a blank line, the first line must start where the block structure allows a
  statement (the body of an opener above, or the level of a line or block above);
- block_exit: a multi-line suggestion stops when it leaves the function or class it is in (in an
  indentation language; elsewhere when its indentation leaves the block it started in). A hole at
  the end of a loop may well go on with the function's next statement;
- dead_end: a `return`/`raise`/`break`/`continue` where the code below would never run (at the
  next line's indentation), or where that line still waits for its opener, ends the suggestion
  before it (the in-process engine already steers its first line away from it);
- body_only: at the empty body of a block whose code below goes on at the block's own level or
  left of it, the suggestion is that body: it ends where it comes back to the opener's level;
- repeat: a line that repeats the one before it, or two lines that repeat the two before them
  (decoding loops), ends the suggestion before the repeat;
- deadline / blank: see `clean` (a lone line the time budget cut is kept when it ends as only a
  whole line does: `finished_line`).
The same cut points stop generation early (``should_stop``), so no token is wasted.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

from lsp_server.postprocess.cursor import CursorContext, ends_flow, indent_of

_CLOSERS = "})]"
# A later line whose tokens are this close to the next line's is taken for a rewrite of it
# (Continue stops at a similar line too); the first line is the hole itself and is never
# judged so. Tokens, not characters: swapped names keep every token.
SIMILAR = 0.8
SIMILAR_MIN_TOKENS = 6
_TOKEN = re.compile(r"\w+|[^\w\s]")


def _similar(a: str, b: str) -> bool:
    ta, tb = Counter(_TOKEN.findall(a)), Counter(_TOKEN.findall(b))
    na, nb = sum(ta.values()), sum(tb.values())
    if min(na, nb) < SIMILAR_MIN_TOKENS:
        return False
    return 2 * sum((ta & tb).values()) / (na + nb) >= SIMILAR


def _norm(line: str) -> str:
    """A line compared without any spacing: ``x=f(a,b)`` echoes ``x = f(a, b)``."""
    return "".join(line.split())


def _is_closer_line(line: str) -> bool:
    core = line.strip().rstrip(";,")
    return bool(core) and all(c in _CLOSERS for c in core)


def _block_indent(lines: list[str]) -> int:
    """Indentation that lines of the suggestion must keep to stay in the block it starts in:
    its first code line's, or that line's body's when it opens a block."""
    code = [ln for ln in lines if ln.strip()]
    first = code[0]
    if first.rstrip().endswith(tuple(":{([")):
        return indent_of(code[1]) if len(code) > 1 else indent_of(first) + 1
    return indent_of(first)


def _code_below(ctx: CursorContext) -> list[str]:
    return [ln for ln in ctx.next_lines if ln.strip()][:6]


def find_cut(text: str, ctx: CursorContext, final: bool = False) -> int | None:
    """Index in ``text`` where the suggestion must end, or None if it may go on.

    While streaming (``final=False``) the last line may be incomplete, so rules that need a
    whole line only judge complete ones.
    """
    if not ctx.multiline:
        nl = text.find("\n")
        return nl if nl >= 0 else None
    lines = (ctx.line_before + text).split("\n")
    below = _code_below(ctx)
    below_norm = [_norm(ln) for ln in below]
    nxt = below[0] if below else None
    n = indent_of(nxt) if nxt is not None else None
    placed = ctx.next_is_placed()
    allowed = ctx.allowed_indents()
    scope = ctx.scope_floor()
    unit = ctx.unit()
    floor_on = ctx.indent_sensitive and n is not None and not ctx.continued
    dead_ends = ctx.dead_ends()
    opener = ctx.bodiless_opener() if floor_on else None
    body_only = opener is not None and n is not None and n <= opener
    blank_start = not ctx.line_before.strip()
    # Offsets in ``text``: where line i starts (line 0 starts before the text, at the cursor).
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    starts = [s - len(ctx.line_before) for s in starts]
    starts[0] = 0
    block: int | None = None
    # The code lines before this one (all whole: only the last line may be unfinished), each as
    # its spacing-free text and where a cut before it falls.
    codes: list[tuple[str, int]] = []
    seen_code = False
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        # A line's indentation is settled once it has code; echo, repeat and opener rules need
        # the whole line (the last one is still being written while streaming).
        complete = i < len(lines) - 1 or final
        cut_before = starts[i] - (1 if i else 0)  # the newline before this line (0 for line 0)
        judge_first = i > 0 or blank_start
        norm = _norm(line)
        if complete and judge_first:
            if nxt is not None and norm == below_norm[0]:
                return max(cut_before, 0)  # suffix_echo: the next line
            if seen_code and nxt is not None and _similar(line, nxt):
                return cut_before  # suffix_echo: a rewrite of the next line
            later = lines[i + 1] if i + 1 < len(lines) - 1 or (final and i + 1 < len(lines)) else None
            if later is not None and later.strip():
                for j in range(1, len(below) - 1):
                    if norm == below_norm[j] and _norm(later) == below_norm[j + 1]:
                        if not seen_code:  # the first line is the hole itself: code repeats
                            return starts[i] + len(line) - (len(ctx.line_before) if i == 0 else 0)
                        return cut_before  # suffix_echo: a run further down
            if codes and norm == codes[-1][0] and len(norm) > 3:
                return cut_before  # repeat
            if len(codes) >= 3 and norm == codes[-2][0] and codes[-1][0] == codes[-3][0] and len(norm) > 3:
                return codes[-1][1]  # repeat: the two lines before, over again
        if not seen_code and blank_start and allowed is not None and indent_of(line) not in allowed:
            return 0  # first_indent: no statement can start there
        if floor_on and judge_first and n is not None and placed and indent_of(line) < n and not (
            # the first line at the user's dedent (`CursorContext.allowed_indents`, the only way a
            # column left of a placed next line is allowed) may open the block that line is in
            not seen_code and allowed is not None and indent_of(line) in allowed and (not complete or ctx.opens_block(line))
        ):
            return max(cut_before, 0)  # hole_floor: would leave or re-open the next line's block
        if judge_first and indent_of(line) in dead_ends and ends_flow(line) and (complete or not line.strip().isidentifier()):
            return max(cut_before, 0)  # dead_end: the code below would never run
        if body_only and i > 0 and seen_code and opener is not None and indent_of(line) <= opener:
            return cut_before  # body_only: the block's body is written; what follows it is below
        if complete and n is not None and ctx.opens_block(line) and n > indent_of(line) and (
            not ctx.indent_sensitive or (not placed and n <= indent_of(line) + unit)
        ):
            if i + 1 < len(lines):
                return starts[i] + len(line) - (len(ctx.line_before) if i == 0 else 0)  # body_below
        if i > 0 and seen_code and ctx.indent_sensitive:
            if indent_of(line) < scope:
                return cut_before  # block_exit: it left the definition it was in
        elif i > 0 and seen_code:
            if block is None:
                block = _block_indent(lines)
            if indent_of(line) < block:
                if _is_closer_line(line) and indent_of(line) == indent_of(lines[0]) and not (
                    below and below[0].strip().startswith(line.strip())
                ):
                    if complete:
                        return starts[i] + len(line)  # keep the closing bracket line, stop after it
                    continue
                return cut_before  # block_exit
        seen_code = True
        codes.append((norm, cut_before))
    return None


def should_stop(ctx: CursorContext) -> Callable[[str], bool]:
    return lambda text: find_cut(text, ctx) is not None


def finished_line(line: str) -> bool:
    """Does this line end as only a whole line does: a statement's ``;``, a block's brace, or a
    closing bracket or a colon with every bracket of the line closed? (``return tot`` may go on;
    ``return total;`` and ``f(x)`` do not.)"""
    core = line.split("//", 1)[0].rstrip() if "//" in line and not line.lstrip().startswith("//") else line.rstrip()
    if not core.strip():
        return False
    if core.endswith((";", "{", "}")):
        return True
    opened = sum(core.count(c) for c in "([{") - sum(core.count(c) for c in ")]}")
    return core.endswith((")", "]", ":")) and opened == 0 and core.count('"') % 2 == 0 and core.count("'") % 2 == 0


def trim_right_echo(text: str, line_after: str) -> str:
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
    """The suggestion to show for raw model output, or "" when there is nothing worth showing.

    - deadline: a suggestion cut by the time budget ends at its last complete line;
    - blank: empty or whitespace-only suggestions are dropped.
    """
    cut = find_cut(text, ctx, final=True)
    if cut is not None:
        text = text[:cut]
    if stop_reason == "deadline":
        # Out of time mid-line: keep the complete lines only; a half line is no suggestion,
        # unless it ends as only a whole line does (the line break was the next token).
        nl = text.rfind("\n")
        last = (ctx.line_before if nl < 0 else "") + text[nl + 1 :]
        if not finished_line(last):
            text = text[:nl] if nl >= 0 else ""
    if not ctx.multiline or "\n" not in text:
        text = trim_right_echo(text, ctx.line_after)
    text = text.rstrip()
    return text if text.strip() else ""
