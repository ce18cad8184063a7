"""Post-processing: raw model text in, a suggestion worth showing out. Pure: no pygls, no model.

Three stages, one module each: `cut` (where the suggestion ends, from the code around the
cursor), `gate` (it must not break code that parsed) and the edit built here (`finish`): at a
whitespace-only cursor line the model chose the indentation, so a suggestion that dedents
replaces the whitespace before the cursor instead of adding to it.
"""

from __future__ import annotations

from dataclasses import dataclass

from lsp_server.postprocess.cursor import CursorContext, decide_multiline
from lsp_server.postprocess.cut import clean, find_cut, should_stop
from lsp_server.postprocess.gate import gate, with_body

__all__ = ["CursorContext", "Suggestion", "clean", "decide_multiline", "find_cut", "finish", "should_stop"]


@dataclass(frozen=True)
class Suggestion:
    """Text for the cursor. It replaces the ``replace`` characters before the cursor (the
    whitespace of an indented blank line, when the suggestion belongs further left)."""

    text: str
    replace: int = 0

    def apply(self, text: str, offset: int) -> tuple[str, int]:
        """The buffer once accepted at ``offset``, and the cursor after the suggestion."""
        start = offset - self.replace
        return text[:start] + self.text + text[offset:], start + len(self.text)

    def first_line(self) -> Suggestion:
        """The suggestion up to its first non-blank line (a shorter alternative)."""
        lines = self.text.split("\n")
        first = next((i for i, line in enumerate(lines) if line.strip()), len(lines) - 1)
        return Suggestion("\n".join(lines[: first + 1]), self.replace)


TAB_WIDTH = 4  # spaces a model writes for one tab level when it strays from a tab-indented file


def in_tabs(text: str, indent: str) -> str:
    """A suggestion indented with spaces where the cursor line is indented with tabs, re-indented
    with tabs: accepting it must not turn the line's tabs into spaces (nor mix both)."""
    if not indent or indent.strip("\t") or "\t" in text[: len(text) - len(text.lstrip(" \t"))]:
        return text
    lines = text.split("\n")
    out = []
    for line in lines:
        spaces = len(line) - len(line.lstrip(" "))
        out.append("\t" * (spaces // TAB_WIDTH) + " " * (spaces % TAB_WIDTH) + line[spaces:] if spaces else line)
    return "\n".join(out)


def _gated(text: str, ctx: CursorContext, stop_reason: str, bodiless_ok: bool) -> str:
    """The gate's verdict. A Python suggestion the time budget ended right after a block opener
    where that may be (``bodiless_ok``: a cold request, `Prepared.may_end`) is judged with a
    placeholder body: the opener alone, in time, then its body with the next request."""
    last = (ctx.line_before if "\n" not in text else "") + text.rsplit("\n", 1)[-1]
    if bodiless_ok and stop_reason == "deadline" and ctx.indent_sensitive and ctx.opens_block(last):
        bodied = with_body(text, last)
        if gate(bodied, ctx.before, ctx.after, ctx.language) == bodied:
            return text
    return gate(text, ctx.before, ctx.after, ctx.language)


def finish(raw: str, ctx: CursorContext, stop_reason: str, indent: str = "", tail: str = "", *,
           bodiless_ok: bool = False) -> Suggestion | None:
    """Cut, gate and place raw model text; None when nothing is worth showing.

    ``ctx`` describes the cursor as the model saw it: when the whitespace before the cursor
    (``indent``) was left out of the prompt, the model wrote each line's indentation itself and
    ``ctx`` starts at the line start. ``tail`` is appended to the suggestion (a line break and
    the indentation of the line the cursor opened, see `context.window.open_line`).
    ``bodiless_ok``: the run may have ended right after a block opener (see `_gated`).
    """
    text = _gated(clean(raw, ctx, stop_reason), ctx, stop_reason, bodiless_ok)
    if not text.strip():
        return None
    text = in_tabs(text, indent or ctx.line_before[: len(ctx.line_before) - len(ctx.line_before.lstrip(" \t"))])
    if text.startswith(indent):
        return Suggestion(text[len(indent) :] + tail)
    own = text[: len(text) - len(text.lstrip(" \t"))]
    if indent.startswith(own):  # a dedent: replace only the whitespace it does not keep
        return Suggestion(text[len(own) :] + tail, len(indent) - len(own))
    return Suggestion(text + tail, len(indent))
