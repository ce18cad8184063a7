from __future__ import annotations

import pytest

from lsp_server.documents import (
    UTF8,
    UTF16,
    DocumentStore,
    PositionError,
    Snapshot,
    TextChange,
    column_to_index,
    typed_cursor,
)

TEXT = "a😀b = 1\n漢字x = 2\nlast"


@pytest.mark.parametrize(
    ("encoding", "line", "col", "expected_char"),
    [
        (UTF16, 0, 3, "b"),  # the emoji is two UTF-16 units
        (UTF8, 0, 5, "b"),  # and four UTF-8 bytes
        (UTF16, 1, 2, "x"),  # CJK: one UTF-16 unit each
        (UTF8, 1, 6, "x"),  # three UTF-8 bytes each
    ],
)
def test_offsets_land_after_wide_characters(encoding: str, line: int, col: int, expected_char: str) -> None:
    doc = Snapshot("file:///t.py", TEXT, 1)
    assert TEXT[doc.offset_at(line, col, encoding)] == expected_char
    assert doc.position_at(doc.offset_at(line, col, encoding), encoding) == (line, col)


def test_column_inside_a_surrogate_pair_rounds_up() -> None:
    assert column_to_index("a😀b", 2, UTF16) == 2


def test_column_past_line_end_clamps_and_bad_line_raises() -> None:
    doc = Snapshot("file:///t.py", TEXT, 1)
    assert doc.offset_at(2, 99, UTF16) == len(TEXT)
    with pytest.raises(PositionError):
        doc.offset_at(3, 0, UTF16)
    with pytest.raises(PositionError):
        doc.offset_at(-1, 0, UTF16)


def test_incremental_changes_apply_in_order_with_utf16_ranges() -> None:
    store = DocumentStore()
    store.open("file:///t.py", TEXT, 1, "python")
    doc = store.change(
        "file:///t.py",
        2,
        [TextChange("c", (0, 3, 0, 4)), TextChange("Z", (1, 2, 1, 3)), TextChange("\nmore", (2, 4, 2, 4))],
        UTF16,
    )
    assert doc.text == "a😀c = 1\n漢字Z = 2\nlast\nmore"
    assert doc.version == 2 and doc.language_id == "python"


def test_full_replacement_and_unknown_document() -> None:
    store = DocumentStore()
    store.open("file:///t.py", "old", 1)
    assert store.change("file:///t.py", 5, [TextChange("new")], UTF16).text == "new"
    with pytest.raises(KeyError):
        store.change("file:///missing.py", 1, [TextChange("x")], UTF16)


def test_crlf_lines() -> None:
    doc = Snapshot("file:///t.py", "ab\r\ncd", 1)
    assert doc.line_text(0) == "ab"
    assert doc.text[doc.offset_at(1, 1, UTF16)] == "d"


def test_typed_cursor_stands_after_the_inserted_text() -> None:
    doc = Snapshot("file:///t.py", TEXT, 1)
    after = doc.offset_at(1, 2, UTF16)  # before "x" on the second line
    assert typed_cursor(doc, [TextChange("ab", (1, 2, 1, 2))], UTF16) == after + 2  # typed
    assert typed_cursor(doc, [TextChange("", (1, 1, 1, 2))], UTF16) == after - 1  # backspace
    assert typed_cursor(doc, [TextChange("\n    ", (0, 3, 0, 4))], UTF16) == doc.offset_at(0, 3, UTF16) + 5
    assert typed_cursor(doc, [TextChange("x", (0, 0, 0, 0)), TextChange("y", (1, 0, 1, 0))], UTF16) is None
    assert typed_cursor(doc, [TextChange("whole new text")], UTF16) is None
    assert typed_cursor(doc, [TextChange("x", (7, 0, 7, 0))], UTF16) == len(TEXT) + 1  # past the end
