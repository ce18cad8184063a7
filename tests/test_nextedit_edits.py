"""From old and new region to minimal edits, the drop rules, and the rejoin stop rule."""

from __future__ import annotations

from lsp_server.documents import Snapshot
from lsp_server.nextedit.edits import (
    TextEdit,
    apply,
    breaks_parse,
    confident,
    judge,
    region_edits,
    undoes,
)
from lsp_server.nextedit.history import Hunk
from lsp_server.nextedit.prompt import RegionBudget, choose_region
from lsp_server.nextedit.rewrite import RejoinStop, align, complete, watch_words

URI = "file:///a.py"
CODE = "x = 0\ndef f(count):\n    total = n + 1\n    if n > 2:\n        return n\n    return total\n"
RENAMED = CODE.replace("n + 1", "count + 1").replace("n > 2", "count > 2").replace("return n\n", "return count\n")


def region_of(text: str):  # type: ignore[no-untyped-def]
    doc = Snapshot(URI, text, 1, "python")
    return choose_region(doc, doc.line_starts[1], RegionBudget(region_tokens=1000), lambda s: len(s.split()))


def test_edits_are_word_sized_and_rebuild_the_new_region() -> None:
    region = region_of(CODE)
    edits = region_edits(region, RENAMED[region.start :])
    assert [(e.old, e.text) for e in edits] == [("n", "count")] * 3
    assert apply(CODE, edits) == RENAMED
    assert region_edits(region, region.text) == []


def test_an_edit_that_reverts_the_users_latest_hunk_is_recognised() -> None:
    hunk = Hunk(URI, 1, ("def f(n):",), ("def f(count):",))
    revert = TextEdit(6, 11, "n", "count")
    follow = TextEdit(25, 26, "count", "n")
    assert undoes(revert, hunk, 1)
    assert not undoes(follow, hunk, 2)  # outside the hunk's lines
    added = Hunk(URI, 1, ("def f(a):",), ("def f(a, verbose):",))
    assert undoes(TextEdit(7, 16, "", ", verbose"), added, 1)
    assert not undoes(TextEdit(7, 7, "=1", ""), added, 1)


def test_confidence_from_where_the_rewrite_left_the_original() -> None:
    edit = TextEdit(10, 11, "count", "n", new_start=40)
    assert confident(edit, [(40, 0.9)])
    assert not confident(edit, [(3, 0.99), (41, 0.1)])
    assert confident(edit, [])  # no figure: the engine could not say


def test_an_edit_that_breaks_code_that_parsed_is_dropped_but_not_in_broken_code() -> None:
    assert breaks_parse(CODE, [TextEdit(25, 26, "count(", "n")], "python")
    assert not breaks_parse(CODE, [TextEdit(25, 26, "count", "n")], "python")
    broken = CODE.replace("return total", "return total +")
    assert not breaks_parse(broken, [TextEdit(25, 26, "count(", "n")], "python")


def test_judge_keeps_the_follow_ups_and_says_why_others_went() -> None:
    region = region_of(CODE)
    edits = region_edits(region, RENAMED[region.start :].replace("return total", "return  total"))
    lines = {e.start: CODE.count("\n", 0, e.start) for e in edits}
    hunk = Hunk(URI, 1, ("def f(n):",), ("def f(count):",))
    judged = judge(CODE, "python", edits, hunk, [], lines)
    assert [(e.old, e.text) for e in judged.kept] == [("n", "count")] * 3
    assert judged.dropped == {"spaces": 1}


def test_watch_words_are_what_changed_and_what_is_called() -> None:
    assert watch_words(["def f(n):"], ["def f(count):"]) == {"n", "count", "f"}
    assert watch_words(["    timeout = 30"], ["    timeout = 60"]) == {"30", "60"}


def test_align_follows_a_partial_rewrite() -> None:
    original = ["a\n", "b\n", "c\n", "d\n"]
    at = align(original, ["a\n", "B\n", "c\n"])
    assert (at.position, at.rejoined, at.changed, at.changed_lines) == (3, True, True, ("b\n",))
    at = align(original, ["a\n", "B\n"])
    assert not at.rejoined
    assert align(original, ["a\n"]) == align(original, ["a\n"]) and align(original, ["a\n"]).position == 1


def test_rejoin_stop_waits_for_the_last_watched_word_then_stops() -> None:
    original = "def f(count):\n    a = n\n    b = 1\n    c = n\n    d = 2\n    e = 3\n"
    stop = RejoinStop(original, frozenset({"n", "count"}), cursor_line=0)
    rewrite = original.replace("= n", "= count")
    lines = rewrite.splitlines(keepends=True)
    seen = ["".join(lines[: i + 1]) for i in range(len(lines))]
    assert [stop(t) for t in seen[:3]] == [False, False, False]  # an `n` remains below
    assert stop(seen[3] + "    d = 2\n")  # past the last `n`, rejoined
    assert stop.position == 5
    assert complete(original, seen[3] + "    d = 2\n", finished=False) == rewrite
    assert not stop(seen[3][:-1])  # only at line ends


def test_a_plain_copy_past_the_cursor_stops_when_nothing_is_watched() -> None:
    original = "x = 1\ny = 2\nz = 3\nw = 4\n"
    stop = RejoinStop(original, frozenset({"30"}), cursor_line=1)
    assert not stop("x = 1\n")  # the cursor line is not passed yet
    assert stop("x = 1\ny = 2\n")
    assert complete(original, "x = 1\ny = 2\n", finished=False) == original
    watched = RejoinStop(original, frozenset({"4"}), cursor_line=1)
    assert not watched("x = 1\ny = 2\nz = 3\n")  # a watched word is still ahead


def test_complete_gives_the_original_when_it_stopped_inside_a_change() -> None:
    original = "a\nb\nc\n"
    assert complete(original, "a\nB\n", finished=False) == original
    assert complete(original, "a\nB\nc\n", finished=True) == "a\nB\nc\n"
