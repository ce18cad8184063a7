"""Edit history: hunks from didChange snapshots, coalescing, undo and reload rules, bounds."""

from __future__ import annotations

from lsp_server.documents import Snapshot
from lsp_server.nextedit.history import MAX_HUNKS, EditHistory, changed_lines

URI = "file:///a.py"
TEXT = "def f(n):\n    total = n + 1\n    return total * n\n\n\nx = f(2)\n"


def snap(text: str, version: int = 1, uri: str = URI) -> Snapshot:
    return Snapshot(uri, text, version, "python")


def type_edit(history: EditHistory, old: str, new: str) -> str:
    history.record(snap(old), snap(new))
    return new


def test_changed_lines_spans_only_the_edited_lines() -> None:
    old = snap(TEXT)
    assert changed_lines(old, snap(TEXT.replace("f(n)", "f(count)"))) == (0, 0, 0)
    assert changed_lines(old, snap(TEXT.replace("    return", "    y = 1\n    return"))) == (2, 2, 3)
    assert changed_lines(old, snap(TEXT)) is None


def test_keystrokes_on_one_line_coalesce_into_one_hunk() -> None:
    h = EditHistory()
    text = TEXT
    for typed in ("f(c", "f(co", "f(cou", "f(coun", "f(count"):
        text = type_edit(h, text, TEXT.replace("f(n", typed, 1))
    hunks = h.hunks(URI)
    assert len(hunks) == 1
    assert hunks[0].before == ("def f(n):",) and hunks[0].after == ("def f(count):",)


def test_an_edit_far_away_starts_a_new_hunk_and_shifts_none_above() -> None:
    h = EditHistory()
    text = type_edit(h, TEXT, TEXT.replace("f(n)", "f(m)"))
    text = type_edit(h, text, text.replace("x = f(2)", "# call\nx = f(2)"))
    hunks = h.hunks(URI)
    assert [(k.start, k.before, k.after) for k in hunks] == [
        (0, ("def f(n):",), ("def f(m):",)),
        (5, ("x = f(2)",), ("# call", "x = f(2)")),
    ]


def test_a_line_inserted_above_moves_older_hunks_down() -> None:
    h = EditHistory()
    text = type_edit(h, TEXT, TEXT.replace("x = f(2)", "x = f(3)"))
    type_edit(h, text, "import os\n" + text)
    older = h.hunks(URI)[0]
    assert older.start == 6 and older.after == ("x = f(3)",)


def test_typing_back_the_original_text_leaves_no_hunk() -> None:
    h = EditHistory()
    text = type_edit(h, TEXT, TEXT.replace("f(n)", "f(nx)"))
    type_edit(h, text, TEXT)
    assert h.hunks(URI) == []


def test_an_undo_of_the_latest_hunk_removes_it() -> None:
    h = EditHistory()
    text = type_edit(h, TEXT, TEXT.replace("x = f(2)", "x = f(5)"))
    text = type_edit(h, text, text.replace("def f(n)", "def f(k)"))
    type_edit(h, text, TEXT.replace("x = f(2)", "x = f(5)"))  # the editor's undo restores the text
    assert [k.after for k in h.hunks(URI)] == [("x = f(5)",)]


def test_a_whole_file_reload_or_a_huge_change_is_not_history() -> None:
    h = EditHistory()
    text = type_edit(h, TEXT, TEXT.replace("f(n)", "f(m)"))
    h.record(snap(text), snap("reloaded\n"), whole=True)
    assert h.hunks(URI) == []
    text = type_edit(h, TEXT, TEXT.replace("f(n)", "f(m)"))
    type_edit(h, text, text + "y = 1\n" * 100)
    assert h.hunks(URI) == []


def test_history_is_bounded_and_recent_mixes_other_files() -> None:
    h = EditHistory()
    lines = [f"v{i} = {i}\n\n\n" for i in range(20)]
    text = "".join(lines)
    for i in range(20):
        text = type_edit(h, text, text.replace(f"v{i} = {i}\n", f"v{i} = {i + 100}\n"))
    assert len(h.hunks(URI)) == MAX_HUNKS
    other = "file:///b.py"
    h.record(snap("a = 1\n", uri=other), snap("a = 2\n", uri=other))
    recent = h.recent(URI, limit=4)
    assert recent[-1].uri == other  # the most recent edit, in another file
    assert [k.uri for k in recent[:-1]] == [URI] * 3
    h.forget(other)
    assert all(k.uri == URI for k in h.recent(URI))
