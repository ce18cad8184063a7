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



def test_auto_indent_follows_the_editor_rule() -> None:
    from bench.tasks import auto_indent

    assert auto_indent("def f(x):\n") == "    "
    assert auto_indent("def f(x):\n    if x:  # why\n") == "        "
    assert auto_indent("def f(x):\n    for y in x:\n        g(y)\n\n") == "        "
    assert auto_indent("") == ""


@pytest.mark.parametrize("state", ["column0", "auto-indent", "next-line"])
def test_every_line_state_round_trips_the_canonical_program(state: str) -> None:
    t = _task("SingleLineInfilling/HumanEval/0/L0")
    view = t.view(state)
    line_start = view.text.rfind("\n", 0, view.offset) + 1
    # Accept the canonical line as a whole line at the cursor's line, as a right suggestion would be.
    body = t.canonical.rstrip("\n")
    if state == "next-line":
        buffer = view.text[: view.offset] + body + "\n" + view.text[view.offset :]
    else:
        buffer = view.text[:line_start] + body + view.text[view.offset :]
    assert t.middle_from_buffer(buffer) in (t.canonical, t.canonical.rstrip("\n"))
    ns: dict = {}
    exec(t.program_from_buffer(buffer), ns)  # the tests pass


def test_mid_line_view_and_an_edit_outside_the_hole() -> None:
    t = InfillTask("RandomSpanInfillingLight/HumanEval/0/1", "random-span", "def f(x):\n    y = x ", "\n    return y\n",
                   "+ 1", "def check(c):\n    assert c(1) == 2\n", "f")
    view = t.view("mid-line")
    assert view.text == t.prompt + t.suffix and view.offset == len(t.prompt)
    assert t.middle_from_buffer(t.prompt + "+ 1" + t.suffix) == "+ 1"
    assert t.middle_from_buffer("x" + t.suffix) is None  # the edit reached into the prompt
    with pytest.raises(ValueError, match="unknown editor state"):
        t.view("sideways")
