"""The next-edit prompt: an editable region around the cursor, its surroundings and the user's
recent edits as unified diffs, in the layout of the model's edit format. Pure.

The model writes the region anew; `EditPrompt.region.text` is what it is expected to copy
mostly unchanged (the engine's draft). Three layouts:

- ``chatml``: instruct models with a ChatML chat template (the Qwen2.5-Coder Instruct offline
  presets): the surroundings, the diffs and the region in a user turn with an edit instruction;
  the answer is prefilled with the region's opening code fence.
- ``zeta``: Zed's edit-prediction layout (an excerpt with the editable region between markers
  and the cursor marked, the edits as ``User edited`` diffs).
- ``sweep``: Sweep's next-edit layout (the recent changes as ``.diff`` files, then the
  ``original``/``current``/``updated`` versions of the window, separated by ``<|file_sep|>``).

The choice is made from the model's name and control tokens (`choose_format`), as the FIM format
is chosen in `context/templates.py`. Stable parts come first, so the KV cache keeps them across
keystrokes: the instruction, the text above the region, then what typing changes.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lsp_server.context.templates import Segment
from lsp_server.documents import Snapshot
from lsp_server.nextedit.history import Hunk

TokenCounter = Callable[[str], int]
Segments = tuple[Segment, ...]
_PIECE = re.compile(r"\w+|\s+|[^\w\s]")

MAX_LINE_CHARS = 400  # a longer line is not part of a region (minified code, data)
MAX_REGION_LINES = 60
CHARS_PER_TOKEN = 16  # text this many characters per token of budget is over it uncounted


@dataclass(frozen=True)
class RegionBudget:
    region_tokens: int = 256  # the editable region: what the model rewrites
    above_tokens: int = 64  # surroundings shown but not rewritten
    below_tokens: int = 32
    below_share: int = 2  # lines taken below the cursor per line above: follow-ups sit mostly below


@dataclass(frozen=True)
class Region:
    """Whole lines ``start_line`` to ``end_line`` (exclusive) of one snapshot."""

    start_line: int
    end_line: int
    start: int  # offsets in the snapshot's text
    end: int
    text: str
    cursor: int  # the cursor's offset inside ``text``


@dataclass(frozen=True)
class EditPrompt:
    segments: tuple[Segment, ...]
    region: Region
    end_marker: str  # text that closes the region in the model's answer ("" : an end token does)
    format: str
    # The region up to the cursor line's end, already written as the answer's start: it puts a
    # small model in copying mode (asked to write the whole region, the 0.5B answered with a
    # diff), and follow-ups sit mostly below the edit. Lines above the cursor are context only.
    prefill: str = ""


def choose_region(doc: Snapshot, cursor: int, budget: RegionBudget, count: TokenCounter) -> Region:
    """The cursor's line, grown a line above per ``below_share`` lines below while the region
    fits ``region_tokens``, within `MAX_REGION_LINES`; lines over `MAX_LINE_CHARS` stop it."""
    line = doc.position_at(cursor, "utf-32")[0]
    first = last = line  # inclusive
    text = doc.line_text(line)
    used = count(text) if len(text) <= MAX_LINE_CHARS else budget.region_tokens
    grow_up = grow_down = True
    step = 0
    while (grow_up or grow_down) and last - first + 1 < MAX_REGION_LINES:
        down = grow_down and (not grow_up or step % (budget.below_share + 1) != 0)
        nxt = last + 1 if down else first - 1
        if not 0 <= nxt < doc.line_count:
            grow_down, grow_up = (False, grow_up) if down else (grow_down, False)
            continue
        text = doc.line_text(nxt)
        cost = count(text) + 1 if len(text) <= MAX_LINE_CHARS else budget.region_tokens + 1
        if used + cost > budget.region_tokens:
            grow_down, grow_up = (False, grow_up) if down else (grow_down, False)
            continue
        used += cost
        first, last = (first, nxt) if down else (nxt, last)
        step += 1
    return line_region(doc, first, last + 1, cursor)


def line_region(doc: Snapshot, first: int, end_line: int, cursor: int) -> Region:
    """Lines ``first`` to ``end_line`` (exclusive) of ``doc`` as a region."""
    starts = doc.line_starts
    start = starts[first]
    end = starts[end_line] if end_line < len(starts) else len(doc.text)
    return Region(first, end_line, start, end, doc.text[start:end], cursor - start)


def _lines_within(doc: Snapshot, indices: range, budget: int, count: TokenCounter) -> list[str]:
    """The lines at ``indices``, in the order the context grows from the region, that fit in
    ``budget`` tokens (a line's break counted as one); a line too long is over it uncounted."""
    lines: list[str] = []
    used = 0
    for i in indices:
        text = doc.line_text(i)
        if len(text) > budget * CHARS_PER_TOKEN:
            break
        used += count(text) + 1
        if used > budget:
            break
        lines.append(text)
    return lines


def _above(doc: Snapshot, region: Region, budget: int, count: TokenCounter) -> str:
    lines = _lines_within(doc, range(region.start_line - 1, -1, -1), budget, count)
    return "".join(f"{t}\n" for t in reversed(lines))


def _below(doc: Snapshot, region: Region, budget: int, count: TokenCounter) -> str:
    lines = _lines_within(doc, range(region.end_line, doc.line_count), budget, count)
    return "".join(f"{t}\n" for t in lines)


def code_above(doc: Snapshot, region: Region, budget: int, count: TokenCounter) -> Segments:
    """The file's whole lines above the region within ``budget`` tokens, as code: what the model
    reads before the region when it judges proposed lines (`predict`'s carry mode)."""
    return (Segment(_above(doc, region, budget, count)),)


def followed_by(head: Segments, text: str) -> Segments:
    """``head`` and then ``text``; a line break where both are empty (the region opens the
    file), as the model needs a token to start from."""
    out = (*head, Segment(text)) if text else head
    return out if "".join(s.text for s in out) else (Segment("\n"),)


def unified_diff(hunk: Hunk, path: str) -> str:
    """One hunk as a unified diff without context lines."""
    head = f"--- a/{path}\n+++ b/{path}\n"
    rng = f"@@ -{hunk.start + 1},{len(hunk.before)} +{hunk.start + 1},{len(hunk.after)} @@\n"
    body = "".join(f"-{line}\n" for line in hunk.before) + "".join(f"+{line}\n" for line in hunk.after)
    return head + rng + body


# -- formats ---------------------------------------------------------------------------------------

FORMATS = ("chatml", "zeta", "sweep")
SYSTEM = "You are an expert programmer who predicts the next edit of a user who is changing code."
INSTRUCTION = (
    "Rewrite the region. Make exactly the edits that my recent edits make necessary in it: "
    "the other uses of a renamed name, the call sites of a changed signature, the same change in "
    "a twin branch. Keep every other line exactly as it is. If my edits need nothing more, repeat "
    "the region unchanged."
)


class NoEditFormat(ValueError):
    pass


def choose_format(setting: str, model_name: str, has_token: Callable[[str], bool]) -> str:
    """The edit format: ``setting`` unless it is ``auto``; then a next-edit model by its name,
    else ChatML where the vocabulary has its tokens. Raises NoEditFormat when none fits."""
    if setting != "auto":
        if setting not in FORMATS:
            raise NoEditFormat(f"unknown next-edit format {setting!r}; expected auto or one of {', '.join(FORMATS)}")
        return setting
    name = model_name.lower()
    if "zeta" in name:
        return "zeta"
    if "sweep" in name and has_token("<|file_sep|>"):
        return "sweep"
    if has_token("<|im_start|>") and has_token("<|im_end|>"):
        return "chatml"
    raise NoEditFormat(f"{model_name or 'the model'} has no chat template or next-edit format fim-lsp knows")


def build_prompt(
    fmt: str,
    doc: Snapshot,
    cursor: int,
    hunks: Sequence[Hunk],
    paths: Callable[[str], str],
    count: TokenCounter,
    budget: RegionBudget = RegionBudget(),
    region: Region | None = None,
) -> EditPrompt:
    """The prompt for ``doc`` with the cursor at string offset ``cursor``; ``hunks`` oldest first
    (none: the no-history baseline); ``paths`` turns a URI into the path the model sees."""
    region = region or choose_region(doc, cursor, budget, count)
    above = _above(doc, region, budget.above_tokens, count)
    below = _below(doc, region, budget.below_tokens, count)
    path = paths(doc.uri)
    diffs = [(paths(h.uri), unified_diff(h, paths(h.uri))) for h in hunks]
    if fmt == "zeta":
        segments, end = _zeta(path, above, region, below, diffs)
    elif fmt == "sweep":
        segments, end = _sweep(path, doc.uri, above, region, below, diffs, hunks)
    else:
        own = [h for h in hunks if h.uri == doc.uri]
        segments, end = _chatml(path, doc.language_id, above, region, below, diffs, own[-1] if own else None)
    prefill = _through_line(region.text, region.cursor) if fmt == "chatml" else ""
    segments.append(Segment(prefill))
    return EditPrompt(tuple(s for s in segments if s.text), region, end, fmt, prefill)


def _through_line(text: str, at: int) -> str:
    """``text`` up to the end of the line holding offset ``at``, its line break included."""
    end = text.find("\n", at)
    return text if end < 0 else text[: end + 1]


def _fence(language_id: str) -> str:
    return f"```{language_id}\n"


def describe(hunk: Hunk) -> str:
    """The latest edit in words (small instruct models follow a sentence better than a diff)."""
    before, after = "\n".join(hunk.before), "\n".join(hunk.after)
    pieces = [f"replaced `{old.strip()}` with `{new.strip()}`" if old.strip() and new.strip()
              else f"added `{new.strip()}`" if new.strip() else f"removed `{old.strip()}`"
              for old, new in _word_changes(before, after)[:3]]
    return f"My last edit {', '.join(pieces)} on line {hunk.start + 1}." if pieces else ""


def _word_changes(before: str, after: str) -> list[tuple[str, str]]:
    a, b = _PIECE.findall(before), _PIECE.findall(after)
    ops = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    return [("".join(a[i1:i2]), "".join(b[j1:j2])) for tag, i1, i2, j1, j2 in ops if tag != "equal"]


def _chatml(path: str, language_id: str, above: str, region: Region, below: str,
            diffs: list[tuple[str, str]], latest: Hunk | None) -> tuple[list[Segment], str]:
    fence = _fence(language_id)
    # What a keystroke changes comes late: the region (at the cursor), then the latest diff.
    user = f"I am editing {path}.\n\n"
    if above:
        user += f"Code above the region:\n{fence}{above}```\n\n"
    user += f"The region:\n{fence}{region.text}```\n\n"
    if below:
        user += f"Code below the region:\n{fence}{below}```\n\n"
    if diffs:
        user += "My recent edits, oldest first:\n```diff\n" + "".join(d for _, d in diffs) + "```\n\n"
    if latest is not None:
        user += f"{describe(latest)}\n"
    user += INSTRUCTION
    segments = [
        Segment("<|im_start|>", True), Segment(f"system\n{SYSTEM}"), Segment("<|im_end|>", True), Segment("\n"),
        Segment("<|im_start|>", True), Segment(f"user\n{user}"), Segment("<|im_end|>", True), Segment("\n"),
        Segment("<|im_start|>", True), Segment(f"assistant\n{fence}"),
    ]
    return segments, "```"


ZETA_INSTRUCTION = (
    "### Instruction:\nYou are a code completion assistant and your task is to analyze user edits and then "
    "rewrite an excerpt that the user provides, suggesting the appropriate edits within the excerpt, taking "
    "into account the cursor location.\n\n"
)


def _zeta(path: str, above: str, region: Region, below: str,
          diffs: list[tuple[str, str]]) -> tuple[list[Segment], str]:
    events = "".join(f'User edited "{p}":\n```diff\n{d}```\n\n' for p, d in diffs)
    marked = region.text[: region.cursor] + "<|user_cursor_is_here|>" + region.text[region.cursor :]
    excerpt = f"```{path}\n{above}<|editable_region_start|>\n{marked}<|editable_region_end|>\n{below}```"
    text = f"{ZETA_INSTRUCTION}### User Edits:\n\n{events}### User Excerpt:\n\n{excerpt}\n\n### Response:\n"
    return [Segment(text), Segment(f"```{path}\n{above}<|editable_region_start|>\n")], "<|editable_region_end|>"


def _sweep(path: str, uri: str, above: str, region: Region, below: str, diffs: list[tuple[str, str]],
           hunks: Sequence[Hunk]) -> tuple[list[Segment], str]:
    segments: list[Segment] = []
    for (p, _), hunk in zip(diffs, hunks, strict=True):
        before = "".join(f"{line}\n" for line in hunk.before)
        after = "".join(f"{line}\n" for line in hunk.after)
        segments += [Segment("<|file_sep|>", True), Segment(f"{p}.diff\noriginal:\n{before}updated:\n{after}")]
    original = region.text
    if hunks and hunks[-1].uri == uri:
        original = _undo_latest(region, hunks[-1])
    segments += [
        Segment("<|file_sep|>", True), Segment(f"original/{path}\n{above}{original}{below}"),
        Segment("<|file_sep|>", True), Segment(f"current/{path}\n{above}{region.text}{below}"),
        Segment("<|file_sep|>", True), Segment(f"updated/{path}\n{above}"),
    ]
    return segments, ""


def _undo_latest(region: Region, hunk: Hunk) -> str:
    """The region as it was before the latest hunk, where the hunk lies inside it."""
    lines = region.text.splitlines(keepends=True)
    lo, hi = hunk.start - region.start_line, hunk.end - region.start_line
    if lo < 0 or hi > len(lines):
        return region.text
    return "".join(lines[:lo]) + "".join(f"{line}\n" for line in hunk.before) + "".join(lines[hi:])
