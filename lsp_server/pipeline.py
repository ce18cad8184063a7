"""One completion as a pure pipeline: prompt -> generate -> cut -> gate -> suggestion.

`prepare` turns a buffer and a cursor into everything a run needs (the prompt, the facts the
cut and gate stages judge by, the generation limits); the engine generates; `Prepared.finish`
cleans what it wrote. No pygls, no engine instance: the benchmark's offline tools call the same
functions the server does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from lsp_server.config import PromptSettings
from lsp_server.context.types import ExtraChunk, Prompt
from lsp_server.context.window import (
    Anchor,
    PromptBudget,
    build_prompt,
    heal_indentation,
    open_line,
)
from lsp_server.engine.base import FirstWords, GenerationJob, first_word
from lsp_server.postprocess import CursorContext, Suggestion, finish, should_stop
from lsp_server.postprocess.cursor import FLOW_ENDS, left_open
from lsp_server.postprocess.gate import MAX_REGION

SINGLE_LINE_TOKENS = 48


@dataclass(frozen=True)
class Prepared:
    prompt: Prompt
    ctx: CursorContext  # the cursor as the model sees it (at the line start when healed)
    indent: str  # whitespace before the cursor left out of the prompt
    tail: str  # appended to every suggestion (see `open_line`)
    max_tokens: int
    budget_ms: int
    indents: tuple[int, ...] | None = None  # where the first line may start (see CursorContext)
    needs_text: bool = False  # code is missing here: no end before any text
    avoid: FirstWords | None = None  # words the first line may not start with (see GenerationJob)
    grace_ms: int = 0  # past the budget, time to finish a block the suggestion opened
    end_in_budget: bool = False  # the budget is a latency bound (see `GenerationJob.end_in_budget`)
    # The budget may end a Python suggestion right after a block opener (see `may_end`): a cold
    # request's (completion/cold.py), whose first suggestion is due within a couple of seconds.
    bodiless_ok: bool = False

    def should_stop(self) -> Callable[[str], bool]:
        return should_stop(self.ctx)

    def may_end(self, raw: str) -> bool:
        """May the time budget end the suggestion at the last line end of ``raw``? Not inside a
        bracket it opened (``raise Error(`` then one argument line; a literal's first rows):
        the gate drops a statement left open, so a cold request's hurried answer was empty.
        Nor right after a line that opens a block: the block would have no body (and the gate
        would drop it), as when the user stops typing in the middle of ``for x in it``; a block
        finished a little late is still worth having (HumanEval random-span: 21 of 40 passed with
        the body, 18 without). Except a cold request's Python opener (``bodiless_ok``): shown
        alone, gated with a placeholder body (`postprocess.finish`), its body the next answer."""
        complete = raw[: raw.rfind("\n")] if "\n" in raw else ""
        lines = (self.ctx.line_before + complete).split("\n")
        last = next((ln for ln in reversed(lines) if ln.strip()), "")
        opener_ok = self.bodiless_ok and self.ctx.indent_sensitive
        return (opener_ok or not self.ctx.opens_block(last)) and not left_open(lines, self.ctx.indent_sensitive)

    @property
    def heal(self) -> bool:
        """Back up the prompt's last token (see `GenerationJob.heal`): where text stands left of
        the cursor, except at a line end right after punctuation. There the token is complete
        as typed (``)``, ``:``); healing it only let the model end the line, and gained nothing
        on the development tasks."""
        before = self.ctx.line_before
        if not before.strip():
            return False
        last = before[-1]
        return bool(self.ctx.line_after.strip()) or last.isalnum() or last in "_ \t"

    def finish(self, raw: str, stop_reason: str) -> Suggestion | None:
        return finish(raw, self.ctx, stop_reason, self.indent, self.tail, bodiless_ok=self.bodiless_ok)

    def second_chance(self, raw: str) -> Prepared | None:
        """The run again, its first line barred from starting as ``raw``'s did: for an answer
        post-processing refused (an echo of the code below, a line the parse gate rejects), so
        the model's next choice is shown rather than nothing. None where ``raw``'s first line
        has no code (the engine judges first lines only) or that start is barred already."""
        first = raw.split("\n", 1)[0]
        if not first.strip():
            return None
        rest = first.lstrip(" \t")
        barred = (len(first) - len(rest), first_word(rest))
        if barred in (self.avoid or ()):
            return None
        return replace(self, avoid=(*(self.avoid or ()), barred))

    def on_screen(self, raw: str) -> str:
        """What the user would see at the real cursor for raw text written so far (for typed-
        through matching while a run goes on)."""
        if self.indent and raw.startswith(self.indent):
            return raw[len(self.indent) :]
        return "" if self.indent else raw


def prepare(
    text: str,
    offset: int,
    settings: PromptSettings,
    count: Callable[[str], int],
    anchor: Anchor | None = None,
    path: str = "",
    repo: str = "",
    language: str = "",
    extra: tuple[ExtraChunk, ...] = (),
) -> tuple[Prepared, Anchor]:
    """The run for a cursor at string index ``offset``, and the prompt anchor it used."""
    tail = ""
    if settings.multiline != "never":
        text, tail = open_line(text, offset)
    budget = PromptBudget(settings.prefix_tokens, settings.suffix_tokens, settings.import_context_tokens)
    prompt, anchor = build_prompt(text, offset, budget, count, anchor, path, repo, language, extra)
    if settings.prompt_layout == "psm":  # the classic layout: the whole prefix before the suffix
        prompt = replace(prompt, prefix=prompt.prefix + prompt.middle, middle="")
    prompt, indent = heal_indentation(prompt)
    line_start = offset - len(indent)
    before = text[max(0, line_start - MAX_REGION) : line_start]
    after = text[offset : offset + MAX_REGION]
    ctx = CursorContext.from_text(before, after, settings.multiline, language, len(indent))
    budget_ms = settings.time_budget_ms
    if ctx.line_before.strip():
        budget_ms = min(budget_ms, settings.typing_budget_ms)
    grace_ms = max(0, settings.time_budget_ms - budget_ms)  # to finish a block opened in the budget
    max_tokens = settings.max_tokens if ctx.multiline else min(settings.max_tokens, SINGLE_LINE_TOKENS)
    indents = ctx.allowed_indents()
    if indents is None and indent and not ctx.indent_sensitive:
        indents = (len(indent),)  # a brace language: the editor's auto-indent counted the braces
    if indents is not None and ctx.line_before:  # the prompt keeps the indentation (psm layout)
        indents = tuple(i - len(ctx.line_before) for i in indents if i >= len(ctx.line_before)) or None
    dead = tuple(w - len(ctx.line_before) for w in ctx.dead_ends() if w >= len(ctx.line_before))
    avoid = tuple((d, w) for d in dead for w in FLOW_ENDS) or None
    prepared = Prepared(prompt, ctx, indent, tail, max_tokens, budget_ms, indents, ctx.needs_code(), avoid, grace_ms,
                        end_in_budget=budget_ms < settings.time_budget_ms)  # the typing budget: a pause is short
    return prepared, anchor

def job_for(prepared: Prepared, should_stop: Callable[[str], bool] | None = None, session: str = "") -> GenerationJob:
    return GenerationJob(prompt=prepared.prompt, max_tokens=prepared.max_tokens, time_budget_s=prepared.budget_ms / 1000,
                         should_stop=should_stop, session=session, indents=prepared.indents,
                         needs_text=prepared.needs_text, avoid=prepared.avoid,
                         heal=prepared.heal, may_end=prepared.may_end,
                         grace_s=prepared.grace_ms / 1000, end_in_budget=prepared.end_in_budget)  # fmt: skip
