import pytest

from bench.floor import FloorModel
from bench.quality import QualityRecord, quality_summary
from bench.record import floor_of, typing_summary
from bench.replay import RequestRecord
from bench.tasks import InfillTask

FLOOR = FloorModel(pp=((8, 80.0), (64, 80.0)), tg=20.0)


def test_floor_uses_evaluated_tokens_only():
    ours = RequestRecord(0, 0.0, 0.0, 1.0, "shown", "x",
                         info={"last": {"nPrompt": 1000, "nReused": 992, "nGenerated": 10}})  # fmt: skip
    assert floor_of(ours, FLOOR) == pytest.approx(8 / 80 + 10 / 20)
    peer = RequestRecord(
        0, 0.0, 0.0, 1.0, "shown", "x", info={"timings": {"prompt_n": 8, "predicted_n": 10}}
    )
    assert floor_of(peer, FLOOR) == pytest.approx(8 / 80 + 10 / 20)
    cached = RequestRecord(0, 0.0, 0.0, 0.0, "shown", "x", info={"from_cache": True})
    assert floor_of(cached, FLOOR) is None
    assert floor_of(ours, None) is None


def test_typing_summary_ratios():
    recs = [
        RequestRecord(
            0, 0.0, 0.0, 0.6, "shown", "a", True, {"timings": {"prompt_n": 8, "predicted_n": 0}}
        ),
        RequestRecord(1, 1.0, 1.0, None, "cancelled"),
    ]
    s = typing_summary([(recs, [0.0, 1.0, 3.0])], {"prompt_evaluated": 8}, FLOOR)
    assert s["floor"]["p50_s"] == pytest.approx(0.1)
    assert s["floor"]["latency_over_floor_p50"] == pytest.approx(6.0)
    assert s["latencies_answered_s"] == [pytest.approx(0.6)]
    assert s["pauses"] == 2 and s["pauses_with_suggestion"] == 1


def test_quality_summary_counts_and_scores():
    t = InfillTask(
        "SingleLineInfilling/HumanEval/0/L0", "single-line", "p\n", "s\n", "    x = 1\n", "", "f"
    )
    recs = [
        QualityRecord(t.task_id, "single-line", "    x = 1\n", "", 1.0, status="passed"),
        QualityRecord(t.task_id, "single-line", None, "", None, status="failed"),
    ]
    q = quality_summary(recs, {t.task_id: t})["single-line"]
    assert q["n"] == 2 and q["passed"] == 1 and q["pass@1"] == 0.5
    assert q["exact_match"] == 0.5 and q["edit_similarity"] == 0.5 and q["offered"] == 1
    assert q["mean_latency_s"] == 1.0


def test_the_floor_keeps_the_first_non_blank_line() -> None:
    from bench.naive_run import first_line_insert

    assert first_line_insert("def f():\n\n", 9, "    return 1\n    x = 2\n") == "    return 1"
    assert first_line_insert("def f():\n\n", 9, "\n\n    return 1\n") == "\n\n    return 1"
    assert first_line_insert("def f():\n\n", 9, "  \n") == ""
    # At the start of a line with code after the cursor, the floor opens a line.
    assert first_line_insert("def f():\n    return x\n", 9, "    x = 1\n    y") == "    x = 1\n"


def test_records_are_reported_by_split_and_state() -> None:
    from bench.quality import QualityRecord

    assert QualityRecord("t", "single-line", None, "", None).key == "single-line"
    assert QualityRecord("t", "single-line", None, "", None, state="auto-indent").key == "single-line / auto-indent"
    assert QualityRecord("t", "random-span", None, "", None, state="mid-line").key == "random-span"
