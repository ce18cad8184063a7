"""From the old region and the new to the smallest edits, and the rules that drop edits nobody
wants. Pure.

The diff runs over words, spaces and punctuation, so renaming ``n`` to ``count`` is one edit of
one word, not a changed line. An edit is dropped when it changes nothing but spaces, undoes the
user's latest edit, breaks code that parsed (`postprocess.gate`'s parsers), or the model was not
confident in it (its first token that left the original had a low probability).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from lsp_server.nextedit.history import Hunk
from lsp_server.nextedit.prompt import Region
from lsp_server.nextedit.rewrite import words
from lsp_server.postprocess.gate import CannotJudge, parser_for
from lsp_server.postprocess.gate import region as top_level

_PIECE = re.compile(r"\w+|\s+|[^\w\s]")
MIN_CONFIDENCE = 0.3  # probability of the first token that left the original


@dataclass(frozen=True)
class TextEdit:
    """Replace ``start``..``end`` of the document's text with ``text``."""

    start: int
    end: int
    text: str
    old: str  # the text replaced
    new_start: int = 0  # where ``text`` begins in the new region (for the model's confidence)


def region_edits(region: Region, new: str) -> list[TextEdit]:
    """The smallest edits that turn ``region.text`` into ``new``, in document offsets."""
    a, b = _PIECE.findall(region.text), _PIECE.findall(new)
    a_at, b_at = _offsets(a), _offsets(b)
    out: list[TextEdit] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        old, text = "".join(a[i1:i2]), "".join(b[j1:j2])
        out.append(TextEdit(region.start + a_at[i1], region.start + a_at[i2], text, old, b_at[j1]))
    return out


def _offsets(pieces: list[str]) -> list[int]:
    at = [0]
    for p in pieces:
        at.append(at[-1] + len(p))
    return at


def apply(text: str, edits: Sequence[TextEdit]) -> str:
    for e in sorted(edits, key=lambda e: e.start, reverse=True):
        text = text[: e.start] + e.text + text[e.end :]
    return text


MIN_SIMILARITY = 0.7  # a new region less like the old (in words) is a rewrite or prose, not edits


def similar(old: str, new: str, floor: float = MIN_SIMILARITY) -> bool:
    """Whether ``new`` is the old region with edits, rather than something else."""
    matcher = difflib.SequenceMatcher(None, _PIECE.findall(old), _PIECE.findall(new), autojunk=False)
    return matcher.ratio() >= floor or (not old.strip() and not new.strip())


def only_spaces(edit: TextEdit) -> bool:
    return not edit.old.strip() and not edit.text.strip()


def undoes(edit: TextEdit, hunk: Hunk | None, line_of: int) -> bool:
    """Whether ``edit`` (starting on line ``line_of``) puts back what the user's latest edit took
    out, on that edit's lines: the model reverting the user."""
    if hunk is None or not hunk.start <= line_of < max(hunk.end, hunk.start + 1):
        return False
    before, after = words("\n".join(hunk.before)), words("\n".join(hunk.after))
    added, removed = after - before, before - after
    took, gave = words(edit.old), words(edit.text)
    return bool(took & added or gave & removed) and took <= added and gave <= removed


def confident(edit: TextEdit, departures: Sequence[tuple[int, float]], floor: float = MIN_CONFIDENCE) -> bool:
    """The model's probability where its rewrite first left the original within this edit's
    text; an edit the engine gave no such figure for passes."""
    lo, hi = edit.new_start, edit.new_start + max(len(edit.text), 1)
    probs = [p for at, p in departures if lo <= at <= hi]
    return not probs or min(probs) >= floor


def breaks_parse(text: str, edits: Sequence[TextEdit], language: str) -> bool:
    """Whether applying ``edits`` to ``text`` turns a top-level region that parsed into one that
    does not (judged around the edits, bounded as the completion gate is)."""
    parser = parser_for(language)
    if parser is None or not edits:
        return False
    lo, hi = min(e.start for e in edits), max(e.end for e in edits)
    before, after = top_level(text[:lo], text[hi:])
    middle_old = text[lo:hi]
    middle_new = apply(middle_old, [TextEdit(e.start - lo, e.end - lo, e.text, e.old) for e in edits])
    try:
        if parser(before + middle_old + after) is not None:
            return False  # the code did not parse before: not ours to judge
        return parser(before + middle_new + after) is not None
    except CannotJudge:
        return False


@dataclass(frozen=True)
class Judged:
    kept: list[TextEdit]
    dropped: dict[str, int]  # why, how many


def judge(doc_text: str, language: str, edits: list[TextEdit], latest: Hunk | None,
          departures: Sequence[tuple[int, float]], line_of: dict[int, int], floor: float = MIN_CONFIDENCE) -> Judged:
    """The edits worth showing; ``line_of`` maps an edit's start to its line."""
    dropped: dict[str, int] = {}
    kept: list[TextEdit] = []
    for e in edits:
        why = ("spaces" if only_spaces(e) else "undo" if undoes(e, latest, line_of[e.start])
               else "unsure" if not confident(e, departures, floor) else "")
        if why:
            dropped[why] = dropped.get(why, 0) + 1
        else:
            kept.append(e)
    if kept and breaks_parse(doc_text, kept, language):
        dropped["parse"] = len(kept)
        kept = []
    return Judged(kept, dropped)
