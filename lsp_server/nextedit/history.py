"""The user's recent edits, per document, as line hunks. Pure: snapshots in, hunks out.

Every ``didChange`` becomes at most one change of one hunk: keystrokes on the same or touching
lines coalesce into the hunk they extend, so "rename ``n`` to ``count``" is one hunk however many
keys it took. What is not an edit of the user's is kept out: a whole-file replacement (a reload,
a formatter) and an edit that restores the text before the latest hunk (undo) drop history rather
than add to it. Counts and sizes are bounded, so memory stays flat over any session.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from lsp_server.documents import Snapshot, line_of

MAX_HUNKS = 8  # per document
MAX_HUNK_LINES = 40  # a larger change is a paste or a formatter, not an edit to follow
MAX_OTHER_FILES = 2  # documents whose latest hunk joins another document's history


@dataclass(frozen=True)
class Hunk:
    """Lines ``before`` became ``after``; ``start`` is their first line in the current text."""

    uri: str
    start: int
    before: tuple[str, ...]
    after: tuple[str, ...]
    seq: int = 0  # when it last changed, across documents (larger: more recent)

    @property
    def end(self) -> int:
        """The line after the hunk, in the current text."""
        return self.start + len(self.after)


@dataclass
class _DocHistory:
    hunks: list[Hunk] = field(default_factory=list)
    base_hash: int | None = None  # hash of the text before the latest hunk began (undo check)


def _lines(doc: Snapshot, first: int, last: int) -> tuple[str, ...]:
    """Lines ``first``..``last`` inclusive, without their line ends."""
    return tuple(doc.line_text(i) for i in range(first, last + 1))


def changed_lines(old: Snapshot, new: Snapshot) -> tuple[int, int, int] | None:
    """The line span that differs: (first line, last line in ``old``, last line in ``new``),
    inclusive; None when the texts are equal."""
    a, b = old.text, new.text
    if a == b:
        return None
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:  # longest common prefix by halving: compares in C, not per character
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    prefix = lo
    lo, hi = 0, min(len(a), len(b)) - prefix
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[len(a) - mid :] == b[len(b) - mid :]:
            lo = mid
        else:
            hi = mid - 1
    suffix = lo
    first = line_of(old.line_starts, prefix)
    return first, line_of(old.line_starts, len(a) - suffix), line_of(new.line_starts, len(b) - suffix)


class EditHistory:
    """Recent hunks of every open document. Written on the event loop only."""

    def __init__(self) -> None:
        self._docs: dict[str, _DocHistory] = {}
        self._clock = itertools.count(1)

    def record(self, old: Snapshot, new: Snapshot, whole: bool = False) -> None:
        """The document went from ``old`` to ``new`` in one ``didChange``; ``whole`` when the
        client replaced the whole text (a reload: positions mean nothing after it)."""
        uri = new.uri
        span = changed_lines(old, new)
        if span is None:
            return
        doc = self._docs.setdefault(uri, _DocHistory())
        first, old_last, new_last = span
        if whole or max(old_last, new_last) - first >= MAX_HUNK_LINES:
            self._docs.pop(uri, None)
            return
        if doc.hunks and doc.base_hash == hash(new.text):
            doc.hunks.pop()  # an undo of the latest hunk
            doc.base_hash = None
            return
        delta = new_last - old_last
        latest = doc.hunks[-1] if doc.hunks else None
        if latest is not None and first <= latest.end and old_last + 1 >= latest.start:
            doc.hunks[-1] = self._extend(latest, old, new, first, old_last, delta)
            if doc.hunks[-1].before == doc.hunks[-1].after:
                doc.hunks.pop()  # typed back to what it was
                doc.base_hash = None
        else:
            doc.base_hash = hash(old.text)
            hunk = Hunk(uri, first, _lines(old, first, old_last), _lines(new, first, new_last), next(self._clock))
            doc.hunks = [h for h in doc.hunks if h.end <= first or h.start > old_last]  # overwritten ones go
            doc.hunks.append(hunk)
        self._shift(doc, old_last, delta)
        del doc.hunks[:-MAX_HUNKS]

    def _extend(self, hunk: Hunk, old: Snapshot, new: Snapshot, first: int, old_last: int, delta: int) -> Hunk:
        """``hunk`` grown by a change of lines ``first``..``old_last`` that touches it. Lines the
        change reaches outside the hunk were unchanged, so their text in ``old`` is their original."""
        start = min(first, hunk.start)
        stop = max(old_last + 1, hunk.end)  # exclusive, in ``old``
        before = _lines(old, start, hunk.start - 1) + hunk.before + _lines(old, hunk.end, stop - 1)
        return Hunk(hunk.uri, start, before, _lines(new, start, stop - 1 + delta), next(self._clock))

    @staticmethod
    def _shift(doc: _DocHistory, old_last: int, delta: int) -> None:
        """Hunks below the change move with it."""
        if delta:
            doc.hunks[:-1] = [
                Hunk(h.uri, h.start + delta, h.before, h.after, h.seq) if h.start > old_last else h
                for h in doc.hunks[:-1]
            ]

    def forget(self, uri: str) -> None:
        self._docs.pop(uri, None)

    def hunks(self, uri: str) -> list[Hunk]:
        """This document's hunks, oldest first."""
        doc = self._docs.get(uri)
        return list(doc.hunks) if doc else []

    def recent(self, uri: str, limit: int = 6) -> list[Hunk]:
        """This document's hunks and the latest hunk of the other documents edited most recently,
        oldest first, at most ``limit``."""
        others = sorted(
            (d.hunks[-1] for u, d in self._docs.items() if u != uri and d.hunks), key=lambda h: h.seq
        )[-MAX_OTHER_FILES:]
        found = sorted([*self.hunks(uri), *others], key=lambda h: h.seq)
        return found[-limit:]
