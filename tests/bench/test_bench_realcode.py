"""The real-code hole set: seeded, inside functions, and round-tripping through the editor view."""

from __future__ import annotations

import pytest

from bench.realcode import parses, pick_holes


@pytest.fixture(scope="module")
def holes():  # type: ignore[no-untyped-def]
    return pick_holes(20, seed=3)


def test_holes_are_seeded_and_mixed(holes) -> None:  # type: ignore[no-untyped-def]
    assert [h.hole_id for h in holes] == [h.hole_id for h in pick_holes(20, seed=3)]
    assert [h.hole_id for h in holes] != [h.hole_id for h in pick_holes(20, seed=4)]
    assert {h.kind for h in holes} == {"line", "block"}
    assert len({h.hole_id for h in holes}) == len(holes)


@pytest.mark.parametrize("state", ["column0", "auto-indent"])
def test_accepting_the_hidden_text_restores_the_module(holes, state: str) -> None:  # type: ignore[no-untyped-def]
    for h in holes:
        view = h.view(state)
        line_start = view.text.rfind("\n", 0, view.offset) + 1
        assert not view.text[line_start : view.offset].strip()  # an empty line at the hole
        restored = view.text[:line_start] + h.hidden + view.text[view.offset + 1 :]
        assert restored == h.source and parses(restored)
        assert h.middle_from_buffer(restored) == h.hidden
        assert h.hidden.startswith(" ")  # inside a function body


def test_report_table_for_the_real_code_set() -> None:
    from bench.report import realcode_table

    cell = {"n": 4, "exact_match": 0.25, "edit_similarity": 0.5, "parses": 1.0}
    lines = realcode_table({"ours": {"line / column0": cell}})
    assert lines[2] == "| line, column0 | 25.0% (n=4) | 0.500 | 100% |"
