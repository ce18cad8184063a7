"""A reference implementation of LSP text edits, written apart from lsp_server.documents.

It follows the specification as literally as it can, with Python's codecs doing the unit
counting, so the fuzzer can compare the server's text with it after any sequence of edits:

- lines end at ``\\n``, ``\\r\\n`` or ``\\r``;
- a column counts code units of the position encoding; past the line's end it means the end;
  inside a character (half a surrogate pair, part of a UTF-8 sequence) it means after it;
- a line past the last one means the end of the document (an insert at the end);
- a range that ends before it starts, or a negative line or column, rejects the whole
  notification (the server keeps the text it had);
- a lone surrogate (valid JSON, not valid Unicode) is stored as U+FFFD.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

Range = tuple[int, int, int, int]
_LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)")


@dataclass(frozen=True)
class Edit:
    text: str
    range: Range | None = None


def clean(text: str) -> str:
    return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)


def lines(text: str) -> list[tuple[int, str]]:
    """(start, content without its line end) of each line; a text ending in a line end has an
    empty last line."""
    out = []
    pos = 0
    for m in _LINES.finditer(text):
        out.append((m.start(), m.group().rstrip("\r\n")))
        pos = m.end()
    out.append((pos, text[pos:]))
    return out


def _index(content: str, column: int, encoding: str) -> int:
    if encoding == "utf-16":
        units = content.encode("utf-16-le", "surrogatepass")[: 2 * column]
        return len(units.decode("utf-16-le", "surrogatepass"))
    if encoding == "utf-8":
        units = content.encode("utf-8", "surrogatepass")[:column]
        return len(units.decode("utf-8", "replace"))
    return min(column, len(content))


class Rejected(Exception):
    pass


def offset(text: str, line: int, column: int, encoding: str) -> int:
    if line < 0 or column < 0:
        raise Rejected
    all_lines = lines(text)
    if line >= len(all_lines):
        return len(text)
    start, content = all_lines[line]
    return start + _index(content, column, encoding)


def apply(text: str, edits: list[Edit], encoding: str) -> str:
    """The text after one didChange notification; the old text when it is rejected."""
    new = text
    try:
        for edit in edits:
            body = clean(edit.text)
            if edit.range is None:
                new = body
                continue
            sl, sc, el, ec = edit.range
            start, end = offset(new, sl, sc, encoding), offset(new, el, ec, encoding)
            if end < start:
                raise Rejected
            new = new[:start] + body + new[end:]
    except Rejected:
        return text
    return new
