"""The PSM floors' side of the bench (bench/naive_run.py): jobs out, answers back as records."""

from bench.naive_run import hole_jobs, hole_rows, task_jobs, task_records
from bench.realcode import CodeHole
from bench.tasks import InfillTask

TASK = InfillTask("SingleLineInfilling/HumanEval/0/L0", "single-line", "def f():\n", "    return x\n",
                  "    x = 1\n", "", "f")  # fmt: skip


def _answer(job_id: str, middle: str) -> dict:
    return {"task_id": job_id, "middle": middle, "latency_s": 0.1, "prompt_tokens": 9, "completion_tokens": 3}


def test_jobs_cover_the_uncut_floor_and_the_asked_states() -> None:
    jobs = task_jobs([TASK], ("column0", "next-line"))
    assert [j["id"].split("#")[1] for j in jobs] == ["uncut", "column0", "next-line"]
    assert jobs[0]["max_tokens"] == 64 and "first_line" not in jobs[0]
    assert jobs[1]["prompt"] == "def f():\n" and jobs[1]["first_line"]


def test_answers_become_records_of_both_floors() -> None:
    by_id = {j["id"]: _answer(j["id"], "    x = 1\n    y = 2\n") for j in task_jobs([TASK], ("column0",))}
    uncut, first = task_records([TASK], by_id)
    assert (uncut.system, uncut.middle, uncut.info) == ("naive", "    x = 1\n    y = 2\n",
                                                         {"prompt_tokens": 9, "completion_tokens": 3})  # fmt: skip
    assert (first.system, first.state, first.middle) == ("naive-first-line", "column0", "    x = 1\n")


def test_holes_get_a_windowed_prompt_and_a_row_each() -> None:
    src = "def g(x):\n    y = x + 1\n    return y\n"
    hole = CodeHole("python:m/m.py:2:line", "line", "python", "m.py", "0" * 64, src, src.index("y ="),
                    src.index("\n    return"))  # fmt: skip
    jobs = hole_jobs([hole])
    assert [j["id"] for j in jobs] == ["python:m/m.py:2:line"]
    assert jobs[0]["prompt"] == "def g(x):\n    " and jobs[0]["suffix"] == "\n    return y\n" and jobs[0]["first_line"]
    rows = hole_rows([hole], {j["id"]: _answer(j["id"], "y = x + 1\n    return y") for j in jobs})
    assert rows[0]["exact_match"] and rows[0]["first_exact"] and rows[0]["parses"] and rows[0]["offered"]
    assert rows[0]["middle"] == "    y = x + 1"


def test_the_floor_window_is_the_scripts_cut_at_line_starts() -> None:
    from bench.naive_run import _window

    text = "".join(f"line {i:04d}\n" for i in range(1000))  # 10 characters a line
    off = text.index("line 0500")
    before, after = _window(text, off)
    assert before.startswith("line ") and len(before) <= 3000 and text[:off].endswith(before)
    assert after.endswith("\n") and len(after) <= 1500 and text[off:].startswith(after)
