"""The real-code set: seeded holes inside functions, two disjoint halves of the files, editor
views that round-trip, and the scores of one answer."""

from __future__ import annotations

import asyncio

import pytest

from bench import realcode
from bench.quality import Ask, ask_each
from bench.realcode import CodeHole, hole_record, pick_language
from bench.realsources import SourceFile, files_for
from bench.replay import Reply
from bench.tasks import EditorView
from lsp_server.postprocess.treesitter import parse_tree


@pytest.fixture(scope="module")
def python_files() -> list[SourceFile]:
    return files_for("python")


def _restored(h: CodeHole) -> str:
    view = h.view()
    return view.text[: view.offset] + h.hidden + view.text[view.offset :]


def test_holes_are_seeded_mixed_and_round_trip(python_files: list[SourceFile]) -> None:
    holes = pick_language(python_files, 16, seed=3)
    assert [h.hole_id for h in holes] == [h.hole_id for h in pick_language(python_files, 16, seed=3)]
    assert [h.hole_id for h in holes] != [h.hole_id for h in pick_language(python_files, 16, seed=4)]
    assert {h.kind for h in holes} == {"line", "block", "mid-line"} and len({h.hole_id for h in holes}) == 16
    for h in holes:
        view = h.view()
        line_start = view.text.rfind("\n", 0, view.offset) + 1
        assert view.text[view.offset : view.offset + 1] in ("\n", "")  # nothing right of the cursor
        if h.kind != "mid-line":
            assert not view.text[line_start : view.offset].strip()  # after the line's indentation
        assert _restored(h) == h.source
        assert hole_record(h, h.source, True, None)["exact_match"]
        assert realcode.parses(h.source, h) is True


def test_the_halves_share_no_file(python_files: list[SourceFile]) -> None:
    dev = {h.path for h in pick_language(python_files, 30, seed=1, part="dev")}
    held = {h.path for h in pick_language(python_files, 30, seed=1, part="held")}
    assert dev and held and not dev & held


JS = """function add(a, b) {
  const s = a + b;
  if (s > 10) {
    log(s);
    return 10;
  }
  return s;
}
"""


@pytest.mark.skipif(parse_tree("javascript", "") is None, reason="no tree-sitter JavaScript grammar")
def test_brace_languages_find_lines_and_blocks_from_the_tree() -> None:
    lines, blocks = realcode._candidates(JS, "javascript")
    assert lines == (1, 2, 3, 4, 6) and blocks == ((3, 4),)
    f = SourceFile("javascript", "p", "add.js", "/x/add.js", JS)
    hole = next(h for s in range(20) if (h := realcode._hole(f, "block", __import__("random").Random(s))))
    assert hole.hidden == "log(s);\n    return 10;" and hole.expected == "    log(s);\n    return 10;"
    assert realcode.parses(_restored(hole), hole) is True
    assert realcode.parses(hole.view().text[: hole.start] + "log(s" + hole.view().text[hole.start :], hole) is False


def test_an_answer_is_scored_on_its_first_line_and_whole() -> None:
    src = "def g(x):\n    y = x + 1\n    return y\n"
    hole = CodeHole("python:m/m.py:2:line", "line", "python", "m.py", "0" * 64, src, src.index("y ="),
                    src.index("\n    return"))  # fmt: skip
    view = hole.view()
    wrong = view.text[: view.offset] + "y = x - 1" + view.text[view.offset :]
    row = hole_record(hole, wrong, True, 0.2)
    assert not row["first_exact"] and 0.8 < row["first_es"] < 1 and row["parses"] and row["offered"]
    empty = hole_record(hole, view.text, False, 0.2)
    assert empty["first_es"] == 0 and not empty["offered"] and empty["middle"] == ""
    broken = hole_record(hole, view.text[: view.offset] + "y = (" + view.text[view.offset :], True, 0.2)
    assert broken["parses"] is False
    fig = realcode.summary([row, empty])
    assert fig["python"]["n"] == 2 and fig["python"]["empty"] == 1 and fig["all / line"]["n"] == 2
    floor = [{**row, "offered": True}, {**empty, "offered": True}]
    assert realcode.empty_where_floor_answers([row, empty], floor) == {"python": (1, 2), "all": (1, 2)}


def test_one_loop_asks_each_view_with_its_language() -> None:
    opened: list[tuple[str, str]] = []

    class Completer:
        def open(self, uri: str, text: str, language: str = "python") -> None:
            opened.append((uri, language))

        def change(self, *_: object) -> None: ...

        def close(self, uri: str) -> None: ...

        async def complete(self, uri: str, text: str, offset: int, automatic: bool) -> Reply:
            if uri.endswith(".c"):
                raise RuntimeError("boom")
            return Reply("x", {}, text[:offset] + "x" + text[offset:])

    asks = [Ask("file:///a.ts", EditorView("line", "ab", 1), "typescript"), Ask("file:///b.c", EditorView("line", "", 0), "c")]
    answers = asyncio.run(ask_each(Completer(), asks))  # type: ignore[arg-type]
    assert opened == [("file:///a.ts", "typescript"), ("file:///b.c", "c")]
    assert answers[0].buffer == "axb" and answers[1].buffer == "" and "boom" in (answers[1].error or "")


def test_report_table_for_the_real_code_set() -> None:
    from bench.report import realcode_table

    cell = {"n": 4, "first_exact": 0.25, "first_es": 0.5, "exact_match": 0.25, "edit_similarity": 0.5,
            "parses": 1.0, "empty": 1}  # fmt: skip
    lines = realcode_table({"ours": {"c": cell}, "naive-first-line": {"c": {**cell, "empty": 0}}}, {"c": (1, 4)})
    assert lines[2] == "| c | 4 | 25.0% / 25.0% | 0.500 / 0.500 | 25.0% / 25.0% | 0.500 / 0.500 | 100% / 100% | 1 / 0 |"
    assert lines[-1].endswith("c 1/4")
