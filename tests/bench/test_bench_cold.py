"""bench/cold.py's pure parts: where the cursor goes, the medians, ratios and the table."""

import pytest

from bench.cold import cursor_lines, summarize, table

TEXT = '''import os


def a(x):
    """Doc."""

    y = x

    return y


def b():
    z = 1

    return z
'''


def _row(part: str, setting: str, seconds: float, cursor: str = "middle", empty: bool = False, **counts: int) -> dict:
    return {"part": part, "setting": setting, "cursor": cursor, "seconds": seconds, "empty": empty, "file": "a.py",
            "rep": 1, "suggestion": "x = 1\n", "nPrompt": counts.get("nPrompt", 500),
            "nReused": counts.get("nReused", 0), "nGenerated": 10}  # fmt: skip


def test_the_cursor_goes_on_empty_lines_inside_function_bodies() -> None:
    lines = TEXT.splitlines()
    found = cursor_lines(TEXT)
    assert found == {"middle": 7, "first": 5}  # 0-based: after the docstring, never the blank lines between defs
    assert all(lines[i] == "" for i in found.values())
    with pytest.raises(ValueError):
        cursor_lines("x = 1\n\ny = 2\n")


def test_medians_and_ratios_against_the_setting_without_the_feature() -> None:
    rows = [_row("open", "cold window", 1.0), _row("open", "full window", 4.0), _row("open", "cold window", 3.0),
            _row("open", "full window", 2.0, empty=True), _row("restart-seed", "store, cold cap", 9.0),
            _row("restart", "store, cold cap", 0.5, nReused=480), _row("restart", "store, no cap", 5.0)]  # fmt: skip
    groups = {(g["part"], g["setting"]): g for g in summarize(rows)}
    assert set(groups) == {("open", "cold window"), ("open", "full window"), ("restart", "store, cold cap"),
                           ("restart", "store, no cap")}  # the seeding requests are not a result
    on, off = groups[("open", "cold window")], groups[("open", "full window")]
    assert on["median_seconds"] == pytest.approx(2.0) and off["median_seconds"] == pytest.approx(3.0)
    assert on["ratio"] == pytest.approx(2 / 3) and off["ratio"] == pytest.approx(1.0)
    assert off["empty"] == 1 and on["within_target"] == 1 and off["within_target"] == 0  # an empty answer misses
    restart = groups[("restart", "store, cold cap")]
    assert restart["ratio"] == pytest.approx(0.1) and restart["median_nReused"] == 480
    assert restart["within_target"] == 1


def test_a_ratio_needs_its_baseline_and_the_table_has_a_row_per_group() -> None:
    groups = summarize([_row("open", "cold window", 1.0, cursor="first"), _row("open", "full window", 2.0)])
    assert [g["ratio"] for g in groups] == [None, pytest.approx(1.0)]  # no full-window row at "first"
    text = table(groups).splitlines()
    assert len(text) == 2 + len(groups) and all(line.count("|") == text[0].count("|") for line in text)
    assert "| open | cold window | first | 1 | 0 | 1.00 | 1.00 | - | 1/1 (≤ 2 s) |" in text[2]


def test_the_run_report_shows_the_cold_table() -> None:
    from bench.report import markdown

    groups = summarize([_row("restart", "store, cold cap", 0.5), _row("restart", "store, no cap", 5.0)])
    meta = {"started": "t", "quick": True, "machine": "m", "model": "x.gguf", "threads": 2, "ctx": 4096, "command": "c"}
    md = markdown({"meta": meta, "cold": {"meta": {"gap_ms": 500, "files": {"a.py": ""}}, "table": table(groups)}})
    assert "didOpen → first request: 500 ms; files: a.py." in md and table(groups) in md


def test_the_first_line_is_compared_with_the_baselines_request_for_the_same_file_and_cursor() -> None:
    rows = [{**_row("open", "cold window", 1.0), "suggestion": "\n    return x\n    y"},
            {**_row("open", "full window", 4.0), "suggestion": "    return x  \n"},
            {**_row("open", "cold window", 1.0), "file": "b.py", "suggestion": "pass"},
            {**_row("open", "full window", 4.0), "file": "b.py", "suggestion": "return 1"}]  # fmt: skip
    groups = {g["setting"]: g for g in summarize(rows)}
    assert groups["cold window"]["same_first_line"] == 1 and groups["full window"]["same_first_line"] is None
    assert table(list(groups.values())).splitlines()[2].endswith("| 1/2 |")
