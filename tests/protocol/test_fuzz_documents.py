"""The document store against the reference implementation, for any sequence of edits (pure,
no server: the protocol fuzzer checks the same through the real transport)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from reference import Edit, apply, clean, lines
from strategies import encodings, fuzz_settings, notifications, texts

from lsp_server.documents import DocumentStore, PositionError, Snapshot, TextChange, line_starts


@fuzz_settings(400)
@given(texts, st.lists(notifications, max_size=6), encodings)
def test_edits_give_the_reference_text(text: str, changes: list[list[Edit]], encoding: str) -> None:
    store = DocumentStore()
    store.open("file:///f", text, 1)
    expected = clean(text)
    for version, notification in enumerate(changes, start=2):
        try:
            store.change("file:///f", version, [TextChange(e.text, e.range) for e in notification], encoding)
        except PositionError:
            pass
        expected = apply(expected, notification, encoding)
        doc = store.get("file:///f")
        assert doc is not None and doc.text == expected


@fuzz_settings(300)
@given(texts)
def test_line_starts_and_line_texts_follow_every_line_end(text: str) -> None:
    ref = lines(text)
    assert line_starts(text) == [start for start, _ in ref]
    doc = Snapshot("file:///f", text, 1)
    assert [doc.line_text(i) for i in range(doc.line_count)] == [content for _, content in ref]


def test_a_lone_cr_ends_a_line() -> None:
    doc = Snapshot("file:///f", "a = 1\rb = 2\r", 1)
    assert doc.line_count == 3 and doc.line_text(1) == "b = 2"
    assert doc.offset_at(2, 0) == len(doc.text)
    assert line_starts("a\r\nb\rc\nd") == [0, 3, 5, 7]


def test_a_lone_surrogate_is_stored_as_a_replacement_character_at_the_same_position() -> None:
    store = DocumentStore()
    doc = store.open("file:///f", "x = '\ud800'\ny", 1)
    assert doc.text == "x = '\ufffd'\ny"
    doc = store.change("file:///f", 2, [TextChange("\udc00", (1, 0, 1, 0))], "utf-16")
    assert doc.text == "x = '\ufffd'\n\ufffdy"
    doc.text.encode("utf-8")
