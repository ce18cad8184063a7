import pytest

from bench.editor import Position
from bench.fimlsp import Suggestion
from bench.floor import FloorModel, parse_llama_bench
from bench.report import markdown, plot
from bench.systems import added_text


def test_floor_model_interpolates_and_extrapolates():
    m = FloorModel(pp=((8, 40.0), (64, 80.0)), tg=20.0)
    assert m.pp_time(0) == 0
    assert m.pp_time(1) == pytest.approx(0.05)  # one token: one generation step
    assert m.pp_time(8) == pytest.approx(0.2)
    assert m.pp_time(64) == pytest.approx(0.8)
    assert 0.2 < m.pp_time(30) < 0.8
    assert m.pp_time(640) == pytest.approx(8.0)
    assert m.time(64, 20) == pytest.approx(1.8)


def test_parse_llama_bench_rows():
    rows = [
        {"n_prompt": 64, "n_gen": 0, "avg_ts": 80.0},
        {"n_prompt": 8, "n_gen": 0, "avg_ts": 40.0},
        {"n_prompt": 0, "n_gen": 32, "avg_ts": 20.0},
    ]
    m = parse_llama_bench(rows)
    assert m.pp == ((8, 40.0), (64, 80.0)) and m.tg == 20.0
    with pytest.raises(ValueError):
        parse_llama_bench(rows[:2])


def test_added_text_handles_ranges_that_start_before_the_cursor():
    doc = "x = fo\n"
    s = Suggestion("foo(1)", Position(0, 4), Position(0, 6))
    assert added_text(doc, 6, s) == "o(1)"
    assert added_text(doc, 6, Suggestion("o(1)", Position(0, 6), Position(0, 6))) == "o(1)"


def _record():
    typ = {
        "latency_shown_s": {"n": 3, "p50": 0.5, "p95": 0.9, "max": 1.0},
        "latency_answered_s": {"n": 4, "p50": 0.6, "p95": 1.0, "max": 1.2},
        "latencies_answered_s": [0.4, 0.5, 0.9, 1.2],
        "pauses": 10,
        "pauses_with_suggestion": 7,
        "first_line_match": 2,
        "shown": 3,
        "tokens": {
            "prompt_evaluated": 100,
            "prompt_reused": 900,
            "reuse_share": 0.9,
            "gen_tok_s": 20.0,
        },
        "floor": {"n": 3, "p50_s": 0.25, "latency_over_floor_p50": 2.0},
    }
    peer = dict(
        typ,
        latency_shown_s={"n": 0, "p50": None, "p95": None, "max": None},
        pauses_with_suggestion=0,
    )
    q = {
        "n": 4,
        "passed": 2,
        "pass@1": 0.5,
        "exact_match": 0.25,
        "edit_similarity": 0.7,
        "mean_latency_s": 1.0,
    }
    return {
        "meta": {
            "started": "T",
            "quick": True,
            "machine": "m",
            "model": "x.gguf",
            "model_sha256": "ab" * 32,
            "threads": 2,
            "ctx": 4096,
            "command": "python -m bench --quick",
            "wall_s": 60,
        },
        "floor": {"model": {"pp": [[8, 40.0]], "tg": 20.0}},
        "quality": {
            "ours": {"single-line": q},
            "peer": {"single-line": dict(q, **{"pass@1": 0.25})},
            "empty": {"single-line": dict(q, **{"pass@1": 0.0, "passed": 0})},
        },
        "startup": {
            "ours": {"ready_s": 1.0, "cold_start_s": 2.0, "peak_rss_bytes": 2**30},
            "peer": {"ready_s": 1.0, "cold_start_s": 4.0, "peak_rss_bytes": 2**29},
        },
        "typing": {"every-change": {"ours": typ, "peer": peer}},
        "traces": [{"name": "t.py:f", "body_chars": 100, "keystrokes": 90, "duration_s": 15.0}],
        "notes": ["n1"],
    }


def test_markdown_has_side_by_side_ratios():
    md = markdown(_record())
    assert "| 50.0% (2/4) |" in md.replace("| 50.0% (2/4) | 25.0%", "| 50.0% (2/4) |")
    assert "| ratio ours / llama-server | 2.00 |" in md
    assert "| pauses ≥ 300 ms with a suggestion in time | 7/10 (70%) | 0/10 (0%) | – |" in md
    assert "| spawn → first completion (s) | 2.00 | 4.00 | 0.50 |" in md
    assert "| p50 keystroke → shown suggestion (ms) | 500 | – | – |" in md
    assert "floor: empty completion" in md


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    assert plot(_record(), tmp_path / "l.png")
    assert (tmp_path / "l.png").read_bytes()[:4] == b"\x89PNG"


def test_states_table_sets_fim_lsp_beside_the_first_line_floor() -> None:
    from bench.report import quality_states_table

    cell = {"pass@1": 0.5, "passed": 2, "n": 4}
    q = {"ours": {"single-line": cell, "single-line / auto-indent": {**cell, "pass@1": 0.75, "passed": 3}},
         "naive-first-line": {"single-line": {**cell, "pass@1": 0.25, "passed": 1}}}
    lines = quality_states_table(q)
    assert lines[0].startswith("| split, editor state | fim-lsp | floor: PSM, first line |")
    assert "| single-line, column 0 | 50.0% (2/4) | 25.0% (1/4) | +25.0 points |" in lines
    assert "| single-line, auto-indent | 75.0% (3/4) | – | – |" in lines
