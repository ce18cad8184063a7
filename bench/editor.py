"""Pure text-buffer maths the clients share: offsets, LSP positions (UTF-16) and edits."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Position:
    line: int
    character: int  # UTF-16 code units, as LSP counts them by default


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def offset_to_position(text: str, offset: int) -> Position:
    line = text.count("\n", 0, offset)
    line_start = text.rfind("\n", 0, offset) + 1
    return Position(line, _utf16_len(text[line_start:offset]))


def position_to_offset(text: str, pos: Position) -> int:
    start = 0
    for _ in range(pos.line):
        nl = text.find("\n", start)
        if nl < 0:
            return len(text)
        start = nl + 1
    end = text.find("\n", start)
    line = text[start : end if end >= 0 else len(text)]
    units = 0
    for i, ch in enumerate(line):
        if units >= pos.character:
            return start + i
        units += 2 if ord(ch) > 0xFFFF else 1
    return start + len(line)


def apply_edit(text: str, start: Position, end: Position, new_text: str) -> str:
    a = position_to_offset(text, start)
    b = position_to_offset(text, end)
    return text[:a] + new_text + text[b:]


def line_at(text: str, offset: int) -> tuple[str, str]:
    """The current line split at ``offset``: (before cursor, after cursor)."""
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    return text[start:offset], text[offset : end if end >= 0 else len(text)]
