"""HumanEval-infilling tasks: loading, the seeded one-per-problem selection, and the programs
that get executed.

The editor view puts the cursor on an empty line where the hole is, as a user would when asking
for the missing code; accepting a suggestion there yields ``prompt + text + "\\n" + suffix``.
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
}


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
        return self.prompt + "\n" + self.suffix, len(self.prompt)

    def middle_from_editor(self, inserted: str) -> str:
        """The hole's content once ``inserted`` is accepted at the cursor of `editor_text`."""
        return inserted + "\n"

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
