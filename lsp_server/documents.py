"""Open buffers, incremental edits and LSP position maths in UTF-16 or UTF-8 code units.

LSP positions count columns in the negotiated encoding (UTF-16 by default), while Python
strings index code points; emoji and other astral characters are 2 UTF-16 units but 1 code
point, and CJK characters are 3 UTF-8 bytes. Everything here is pure and never imports pygls.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

UTF16 = "utf-16"
UTF8 = "utf-8"
UTF32 = "utf-32"


class PositionError(ValueError):
    """A position that does not exist in the document."""


def _unit_len(ch: str, encoding: str) -> int:
    cp = ord(ch)
    if encoding == UTF16:
        return 2 if cp > 0xFFFF else 1
    if encoding == UTF8:
        return 1 if cp < 0x80 else 2 if cp < 0x800 else 3 if cp < 0x10000 else 4
    return 1


def column_to_index(line: str, column: int, encoding: str) -> int:
    """Code-point index in ``line`` of an LSP column; columns past the end clamp to it.

    A column inside a surrogate pair or a multi-byte sequence rounds up to the next character.
    """
    if column < 0:
        raise PositionError(f"negative column {column}")
    units = 0
    for i, ch in enumerate(line):
        if units >= column:
            return i
        units += _unit_len(ch, encoding)
    return len(line)


def index_to_column(line: str, index: int, encoding: str) -> int:
    return sum(_unit_len(ch, encoding) for ch in line[:index])


_LINE_END = re.compile(r"\r\n?|\n")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def line_starts(text: str) -> list[int]:
    """String index where each line begins. Lines end at \\n, \\r\\n or a lone \\r, as LSP
    counts them."""
    if "\r" in text:
        return [0, *(m.end() for m in _LINE_END.finditer(text))]
    starts = [0]
    pos = text.find("\n")
    while pos >= 0:
        starts.append(pos + 1)
        pos = text.find("\n", pos + 1)
    return starts


def valid_text(text: str) -> str:
    """``text`` with each lone surrogate (JSON allows ``"\\ud800"``; UTF-8 does not) replaced by
    U+FFFD: one code point, one UTF-16 unit and three UTF-8 bytes either way, so every position
    stays where it was, and tokenizers and parsers get text they can encode."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _LONE_SURROGATE.sub("\ufffd", text)
    return text


def line_of(starts: list[int] | tuple[int, ...], offset: int) -> int:
    """The line holding string index ``offset``, given its ``line_starts``."""
    return bisect.bisect_right(starts, offset) - 1


@dataclass(frozen=True)
class Snapshot:
    """An immutable view of one document version, safe to hand to a worker thread."""

    uri: str
    text: str
    version: int
    language_id: str = ""
    _line_starts: tuple[int, ...] = field(default=(), compare=False, repr=False)

    @property
    def line_starts(self) -> tuple[int, ...]:
        if not self._line_starts:
            object.__setattr__(self, "_line_starts", tuple(line_starts(self.text)))
        return self._line_starts

    @property
    def line_count(self) -> int:
        return len(self.line_starts)

    def line_text(self, line: int) -> str:
        starts = self.line_starts
        end = starts[line + 1] - 1 if line + 1 < len(starts) else len(self.text)
        return self.text[starts[line] : end].rstrip("\r")

    def offset_at(self, line: int, column: int, encoding: str = UTF16) -> int:
        """String index of an LSP position; raises PositionError for a line that does not exist."""
        if line < 0 or column < 0:
            raise PositionError(f"invalid position {line}:{column}")
        if line >= self.line_count:
            raise PositionError(f"line {line} is past the end of the document ({self.line_count} lines)")
        return self.line_starts[line] + column_to_index(self.line_text(line), column, encoding)

    def position_at(self, offset: int, encoding: str = UTF16) -> tuple[int, int]:
        offset = max(0, min(offset, len(self.text)))
        starts = self.line_starts
        lo = line_of(starts, offset)
        return lo, index_to_column(self.text[starts[lo] : offset], offset - starts[lo], encoding)


@dataclass(frozen=True)
class TextChange:
    """One ``contentChanges`` entry: a full replacement when ``range`` is None."""

    text: str
    range: tuple[int, int, int, int] | None = None  # start line, start col, end line, end col


def apply_change(doc: Snapshot, change: TextChange, version: int, encoding: str) -> Snapshot:
    text = valid_text(change.text)
    if change.range is None:
        return Snapshot(doc.uri, text, version, doc.language_id)
    sl, sc, el, ec = change.range
    start = _clamped_offset(doc, sl, sc, encoding)
    end = _clamped_offset(doc, el, ec, encoding)
    if end < start:
        raise PositionError(f"change range end {el}:{ec} is before its start {sl}:{sc}")
    return Snapshot(doc.uri, doc.text[:start] + text + doc.text[end:], version, doc.language_id)


def typed_cursor(doc: Snapshot, changes: list[TextChange], encoding: str) -> int | None:
    """Where the cursor stands after an edit typed into ``doc``: just past the inserted text.

    didChange carries no cursor, but a single ranged edit is a keystroke, a paste or a deletion,
    and each leaves the cursor there. None for several edits (multi-cursor, a formatter) or a
    whole-document replacement, where no guess is safe.
    """
    if len(changes) != 1 or changes[0].range is None:
        return None
    sl, sc, _el, _ec = changes[0].range
    try:
        return _clamped_offset(doc, sl, sc, encoding) + len(changes[0].text)
    except PositionError:
        return None


def _clamped_offset(doc: Snapshot, line: int, column: int, encoding: str) -> int:
    """Edits may address the position just past the last line (an end-of-document insert)."""
    if line >= doc.line_count and column >= 0:
        return len(doc.text)
    return doc.offset_at(line, column, encoding)


class DocumentStore:
    """The open buffers, by URI. Versions are recorded so stale results can be dropped."""

    def __init__(self) -> None:
        self._docs: dict[str, Snapshot] = {}

    def open(self, uri: str, text: str, version: int, language_id: str = "") -> Snapshot:
        doc = Snapshot(uri, valid_text(text), version, language_id)
        self._docs[uri] = doc
        return doc

    def change(self, uri: str, version: int, changes: list[TextChange], encoding: str) -> Snapshot:
        doc = self._docs.get(uri)
        if doc is None:
            raise KeyError(uri)
        for change in changes:
            doc = apply_change(doc, change, version, encoding)
        self._docs[uri] = doc
        return doc

    def close(self, uri: str) -> None:
        self._docs.pop(uri, None)

    def get(self, uri: str) -> Snapshot | None:
        return self._docs.get(uri)

    def __len__(self) -> int:
        return len(self._docs)

    def others(self, uri: str) -> list[Snapshot]:
        return [d for u, d in self._docs.items() if u != uri]
