"""HumanEval-infilling tasks: loading, the seeded one-per-problem selection, the editor states
a hole is asked for in, and the programs that get executed.

Editor states (`STATES`), each a buffer and a cursor a user really has:
- ``column0``: an empty line at the hole, the cursor at its column 0;
- ``auto-indent``: the same line indented as editors do after Enter (the previous line's
  indentation, one level more after a colon), the cursor after the indentation;
- ``next-line``: no empty line, the cursor at the start of the line that follows the hole;
- ``mid-line``: the random-span split, the cursor where the span starts (often mid-line).
Accepting a suggestion applies its edit to the buffer; the program is the buffer that results.
"""

from __future__ import annotations

import gzip
import json
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

SPLITS = {
    "single-line": "HumanEval-SingleLineInfilling.jsonl.gz",
    "multi-line": "HumanEval-MultiLineInfilling.jsonl.gz",
    "random-span": "HumanEval-RandomSpanInfillingLight.jsonl.gz",
}
LINE_SPLITS = ("single-line", "multi-line")  # whole-line holes: asked for in the line states
LINE_STATES = ("column0", "auto-indent", "next-line")
STATES = (*LINE_STATES, "mid-line")
INDENT_UNIT = "    "


def states_for(split: str) -> tuple[str, ...]:
    """A whole-line hole is asked for in each line state; a random span where it starts."""
    return LINE_STATES if split in LINE_SPLITS else ("mid-line",)


def auto_indent(before: str) -> str:
    """The indentation an editor puts on a new line: the last non-blank line's, one level more
    after a line ending with a colon (VS Code's and Neovim's Python indent rules)."""
    for line in reversed(before.split("\n")):
        if line.strip():
            indent = line[: len(line) - len(line.lstrip(" \t"))]
            return indent + INDENT_UNIT if line.split("#", 1)[0].rstrip().endswith(":") else indent
    return ""


@dataclass(frozen=True)
class EditorView:
    """A buffer as the editor holds it when the user asks for the hole, and the cursor in it."""

    state: str
    text: str
    offset: int


@dataclass(frozen=True)
class InfillTask:
    task_id: str
    split: str
    prompt: str
    suffix: str
    canonical: str
    test: str
    entry_point: str

    @property
    def problem(self) -> str:
        """``HumanEval/12`` for ``SingleLineInfilling/HumanEval/12/L3``."""
        parts = self.task_id.split("/")
        return f"{parts[1]}/{parts[2]}"

    def editor_text(self) -> tuple[str, int]:
        """The buffer a user sees (an empty line at the hole) and the cursor offset in it."""
        view = self.view("column0")
        return view.text, view.offset

    def view(self, state: str) -> EditorView:
        """The buffer and cursor of one editor state (see the module docstring)."""
        if state == "column0":
            return EditorView(state, self.prompt + "\n" + self.suffix, len(self.prompt))
        if state == "auto-indent":
            indent = auto_indent(self.prompt)
            return EditorView(state, self.prompt + indent + "\n" + self.suffix, len(self.prompt) + len(indent))
        if state in ("next-line", "mid-line"):
            return EditorView(state, self.prompt + self.suffix, len(self.prompt))
        raise ValueError(f"unknown editor state {state!r}; known: {', '.join(STATES)}")

    def middle_from_buffer(self, buffer: str) -> str | None:
        """The hole's content in a buffer after accepting; None if the edit reached outside it."""
        if not (buffer.startswith(self.prompt) and buffer.endswith(self.suffix)):
            return None
        end = len(buffer) - len(self.suffix)
        return buffer[len(self.prompt) : end] if end >= len(self.prompt) else None

    def middle_from_editor(self, inserted: str) -> str:
        """The hole's content once ``inserted`` is accepted at the cursor of `editor_text`."""
        return inserted + "\n"

    def program_from_buffer(self, buffer: str) -> str:
        """A runnable file from the whole buffer after accepting (any editor state)."""
        return buffer + "\n" + self.test + f"\n\ncheck({self.entry_point})\n"

    def program(self, middle: str) -> str:
        """A runnable file: the completed function, its tests, and the call that runs them."""
        return (
            self.prompt
            + middle
            + self.suffix
            + "\n"
            + self.test
            + f"\n\ncheck({self.entry_point})\n"
        )


def default_data_dir(repo_root: Path) -> Path:
    return repo_root.parent / "shared" / "bench-data" / "humaneval-infilling"


class MissingData(SystemExit):
    """The HumanEval-infilling files are not where the bench looks."""


def load_split(data_dir: Path, split: str) -> list[InfillTask]:
    path = Path(data_dir) / SPLITS[split]
    if not path.is_file():
        raise MissingData(
            f"bench: HumanEval-infilling data not found: {path}\n"
            "It is read from ../shared/bench-data/humaneval-infilling/ beside the repository; "
            "pass --data DIR to read it from elsewhere (never copy it into the repository)."
        )
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return [
        InfillTask(
            task_id=r["task_id"],
            split=split,
            prompt=r["prompt"],
            suffix=r["suffix"],
            canonical=r["canonical_solution"],
            test=r["test"],
            entry_point=r["entry_point"],
        )
        for r in rows
    ]


def _problem_number(problem: str) -> int:
    return int(problem.rsplit("/", 1)[1])


def select_per_problem(tasks: list[InfillTask], seed: int) -> list[InfillTask]:
    """One task per problem, ordered by problem number.

    Each problem draws from its own RNG seeded by (seed, split, problem), so the choice for one
    problem does not depend on which other problems are present or on file order.
    """
    by_problem: dict[str, list[InfillTask]] = defaultdict(list)
    for t in tasks:
        by_problem[t.problem].append(t)
    chosen = []
    for problem in sorted(by_problem, key=_problem_number):
        group = sorted(by_problem[problem], key=lambda t: t.task_id)
        rng = random.Random(f"{seed}/{group[0].split}/{problem}")
        chosen.append(rng.choice(group))
    return chosen


def subsample(tasks: list[InfillTask], n: int | None, seed: int) -> list[InfillTask]:
    """``n`` of the tasks (all if ``n`` is None), chosen with the seed, kept in problem order."""
    if n is None or n >= len(tasks):
        return list(tasks)
    keep = set(random.Random(f"{seed}/subsample").sample(range(len(tasks)), n))
    return [t for i, t in enumerate(tasks) if i in keep]
