"""The PSM floors from the bench's side: the jobs for `bench.naive`, its run, its answers scored.

Two floors through llama-cpp-python with a plain PSM prompt, greedy, in one process:
- ``naive``: the whole output, uncut, between the task's prompt and suffix (as earlier runs);
- ``naive-first-line``: in each editor state, the buffer split at the cursor, and only the
  model's first non-blank line accepted at the cursor (the ten-line script a user could write
  instead; on a line start with code after it, the line ends with a line break).
It is a batch in its own process, not a server: the runner of `bench.runner` does not fit it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import realcode
from bench.quality import QualityRecord
from bench.realcode import CodeHole
from bench.tasks import InfillTask, states_for

REPO = Path(__file__).resolve().parents[1]
# A budget, not post-processing: a single-line hole needs far fewer tokens than 128.
BUDGET = {"single-line": 64, "multi-line": 128, "random-span": 128}


@dataclass(frozen=True)
class NaiveSetup:
    """How `bench.naive` runs: the same model and threads as the systems, llama.cpp's libraries."""

    model: Path
    threads: int
    ctx: int
    lib: Path
    out_dir: Path  # the run directory: the jobs, the answers and the process's stderr go there


def run_naive(
    setup: NaiveSetup, tasks: list[InfillTask], holes: list[CodeHole], states: tuple[str, ...],
    log: Callable[[str], None],
) -> tuple[list[QualityRecord], list[dict]]:
    """Both floors on the tasks (in ``states``) and the first-line floor on the holes: the quality
    records, and the real-code rows."""
    by_id = _run(setup, task_jobs(tasks, states) + hole_jobs(holes), log)
    return task_records(tasks, by_id), hole_rows(holes, by_id)


def task_jobs(tasks: list[InfillTask], states: tuple[str, ...]) -> list[dict]:
    jobs: list[dict] = []
    for t in tasks:
        if t.split != "random-span":
            jobs.append({"id": f"{t.task_id}#uncut", "prompt": t.prompt, "suffix": t.suffix,
                         "max_tokens": BUDGET[t.split]})  # fmt: skip
        for state in states_for(t.split):
            if state not in states:
                continue
            view = t.view(state)
            jobs.append({"id": f"{t.task_id}#{state}", "prompt": view.text[: view.offset],
                         "suffix": view.text[view.offset :], "max_tokens": BUDGET[t.split], "first_line": True})  # fmt: skip
    return jobs


def hole_jobs(holes: list[CodeHole]) -> list[dict]:
    """The plain script on each real-code hole: 3,000 characters before the cursor and 1,500
    after, cut at line starts, its first non-blank line (`first_line_insert`)."""
    jobs: list[dict] = []
    for hole in holes:
        view = hole.view()
        before, after = _window(view.text, view.offset)
        jobs.append({"id": hole.hole_id, "prompt": before, "suffix": after, "max_tokens": 128, "first_line": True})
    return jobs


def _run(setup: NaiveSetup, jobs: list[dict], log: Callable[[str], None]) -> dict[str, dict]:
    """`bench.naive` in its own process (its model's memory and threads leave with it)."""
    inp, outp = setup.out_dir / "naive-in.json", setup.out_dir / "naive-out.jsonl"
    inp.write_text(json.dumps(jobs))
    log(f"naive PSM floors: {len(jobs)} completions through llama-cpp-python")
    with open(setup.out_dir / "naive.stderr", "wb") as err:
        subprocess.run([sys.executable, "-m", "bench.naive", str(inp), str(outp), "--model", str(setup.model),
                        "--threads", str(setup.threads), "--ctx", str(setup.ctx), "--lib", str(setup.lib)],
                       cwd=REPO, stderr=err, check=True, start_new_session=True)  # fmt: skip
    return {r["task_id"]: r for r in map(json.loads, outp.read_text().splitlines())}


def task_records(tasks: list[InfillTask], by_id: dict[str, dict]) -> list[QualityRecord]:
    out = []
    for t in tasks:
        r = by_id.get(f"{t.task_id}#uncut")
        if r is not None:
            out.append(QualityRecord(t.task_id, t.split, r["middle"], t.program(r["middle"]), r["latency_s"],
                                     {"prompt_tokens": r["prompt_tokens"], "completion_tokens": r["completion_tokens"]},
                                     system="naive"))  # fmt: skip
        for state in states_for(t.split):
            r = by_id.get(f"{t.task_id}#{state}")
            if r is None:
                continue
            view = t.view(state)
            line = first_line_insert(view.text, view.offset, r["middle"])
            buffer = view.text[: view.offset] + line + view.text[view.offset :]
            out.append(QualityRecord(t.task_id, t.split, t.middle_from_buffer(buffer) if line else None,
                                     t.program_from_buffer(buffer), r["latency_s"], state=state,
                                     system="naive-first-line"))  # fmt: skip
    return out


def hole_rows(holes: list[CodeHole], by_id: dict[str, dict]) -> list[dict]:
    rows = []
    for hole in holes:
        r = by_id[hole.hole_id]
        view = hole.view()
        line = first_line_insert(view.text, view.offset, r["middle"])
        buffer = view.text[: view.offset] + line + view.text[view.offset :]
        rows.append(realcode.hole_record(hole, buffer, bool(line.strip()), r["latency_s"]))
    return rows


def _window(text: str, offset: int, before: int = 3000, after: int = 1500) -> tuple[str, str]:
    """The floor's prompt around the cursor, cut at line starts: whole files exceed n_ctx."""
    start = max(0, offset - before)
    if start:
        start = text.find("\n", start) + 1 or start
    end = min(len(text), offset + after)
    nl = text.rfind("\n", offset, end)
    return text[start:offset], text[offset : (nl + 1 if nl >= offset and end < len(text) else end)]


def first_line_insert(text: str, offset: int, generated: str) -> str:
    """The floor's cut: up to the end of the first non-blank line; a whole line opened at the
    start of a line with code after the cursor gets its line break."""
    lines = generated.split("\n")
    k = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if k is None:
        return ""
    line = "\n".join(lines[: k + 1])
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    rest = text[offset : end if end >= 0 else len(text)]
    if not text[start:offset].strip() and rest.strip():
        line += "\n" + text[start:offset]
    return line
