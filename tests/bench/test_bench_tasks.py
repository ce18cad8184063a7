import gzip
import json

import pytest

from bench.tasks import InfillTask, MissingData, load_split, select_per_problem, subsample


def _task(tid: str, split: str = "single-line") -> InfillTask:
    return InfillTask(
        tid,
        split,
        "def f(x):\n",
        "    return y\n",
        "    y = x + 1\n",
        "def check(c):\n    assert c(1) == 2\n",
        "f",
    )


def test_program_with_canonical_middle_runs_its_tests():
    t = _task("SingleLineInfilling/HumanEval/0/L0")
    ns: dict = {}
    exec(t.program(t.canonical), ns)  # raises if the assembly were wrong


def test_editor_view_round_trips_to_the_original_program():
    t = _task("SingleLineInfilling/HumanEval/0/L0")
    text, cursor = t.editor_text()
    assert text[cursor:].startswith("\n    return y")
    inserted = t.canonical.rstrip("\n")
    accepted = text[:cursor] + inserted + text[cursor:]
    assert accepted == t.prompt + t.middle_from_editor(inserted) + t.suffix
    assert t.middle_from_editor(inserted) == t.canonical


def test_selection_is_one_per_problem_seeded_and_order_independent():
    tasks = [_task(f"SingleLineInfilling/HumanEval/{p}/L{i}") for p in (10, 2, 1) for i in range(5)]
    a = select_per_problem(tasks, seed=7)
    b = select_per_problem(list(reversed(tasks)), seed=7)
    assert [t.task_id for t in a] == [t.task_id for t in b]
    assert [t.problem for t in a] == ["HumanEval/1", "HumanEval/2", "HumanEval/10"]
    # Another seed picks differently somewhere (5 choices for each of 3 problems).
    others = {tuple(t.task_id for t in select_per_problem(tasks, seed=s)) for s in range(20)}
    assert len(others) > 1
    # Dropping a problem does not change the others' choice.
    c = select_per_problem([t for t in tasks if t.problem != "HumanEval/2"], seed=7)
    assert [t.task_id for t in c] == [a[0].task_id, a[2].task_id]


def test_subsample_keeps_order_and_size():
    tasks = [_task(f"SingleLineInfilling/HumanEval/{p}/L0") for p in range(30)]
    sub = subsample(tasks, 5, seed=1)
    assert len(sub) == 5
    assert sub == sorted(sub, key=lambda t: int(t.problem.split("/")[1]))
    assert subsample(tasks, None, seed=1) == tasks
    assert subsample(tasks, 5, seed=1) == sub


def test_load_split_reads_gzipped_jsonl(tmp_path):
    row = {
        "task_id": "MultiLineInfilling/HumanEval/3/L0_L1",
        "entry_point": "f",
        "prompt": "p\n",
        "suffix": "s\n",
        "canonical_solution": "c\n",
        "test": "t",
    }
    with gzip.open(tmp_path / "HumanEval-MultiLineInfilling.jsonl.gz", "wt") as fh:
        fh.write(json.dumps(row) + "\n")
    [t] = load_split(tmp_path, "multi-line")
    assert t.problem == "HumanEval/3" and t.canonical == "c\n" and t.split == "multi-line"
    with pytest.raises(MissingData, match="pass --data DIR"):  # a clear message, no traceback
        load_split(tmp_path, "single-line")

