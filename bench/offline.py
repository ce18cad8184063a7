"""Score post-processing on recorded raw generations: ``python -m bench.offline RAW.jsonl``.

Reads `bench.rawgen` records, turns each raw continuation into the suggestion the server would
show (the same `pipeline.prepare(...).finish` it calls) and into simpler policies beside it,
accepts it in the editor state it was asked in, runs the task's tests in the sandbox, and
prints pass@1 per split, state and policy. A design tool: the quoted figures come from
``python -m bench`` through the real protocol.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.sandbox import run_program
from bench.tasks import SPLITS, InfillTask, default_data_dir, load_split
from lsp_server.config import PromptSettings
from lsp_server.pipeline import prepare
from lsp_server.postprocess import Suggestion

REPO = Path(__file__).resolve().parents[1]
Policy = Callable[[InfillTask, str, dict], "Suggestion | None"]


def _chars(text: str) -> int:
    return max(1, len(text) // 4)  # token counts only size the prompt windows here


def ours(task: InfillTask, state: str, rec: dict) -> Suggestion | None:
    view = task.view(state)
    prepared, _ = prepare(view.text, view.offset, PromptSettings(), _chars, language="python")
    return prepared.finish(rec["raw"], "eos")


def first_line(task: InfillTask, state: str, rec: dict) -> Suggestion | None:
    """The first non-blank line the model wrote, at the cursor (the floor's cut)."""
    view = task.view(state)
    raw = rec["raw"]
    indent = rec["indent"]
    lines = raw.split("\n")
    first = next((ln for ln in lines if ln.strip()), "")
    if not first:
        return None
    if indent and first.startswith(indent):
        first = first[len(indent) :]
    elif indent:
        return Suggestion(first, len(indent))
    line_start = view.text.rfind("\n", 0, view.offset) + 1
    line_end = view.text.find("\n", view.offset)
    rest = view.text[view.offset : line_end if line_end >= 0 else len(view.text)]
    if not view.text[line_start : view.offset].strip() and rest.strip():
        first += "\n" + view.text[line_start : view.offset]  # a whole line opened at the cursor
    return Suggestion(first)


POLICIES: dict[str, Policy] = {"ours": ours, "first-line": first_line}


def _program(task: InfillTask, state: str, sug: Suggestion | None) -> str:
    view = task.view(state)
    buf = view.text if sug is None else sug.apply(view.text, view.offset)[0]
    return task.program_from_buffer(buf)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.offline", description=__doc__)
    ap.add_argument("raw", type=Path)
    ap.add_argument("--data", type=Path, default=default_data_dir(REPO))
    ap.add_argument("--cache", type=Path, default=Path("/tmp/fim-offline-cache.json"))
    ap.add_argument("--policies", default=",".join(POLICIES))
    ap.add_argument("--compare", default="", help="X:Y lists what policy X passes and Y fails")
    ap.add_argument("--show-failures", default="", help="policy:split:state to list failures of")
    a = ap.parse_args(argv)
    tasks = {t.task_id: t for split in SPLITS for t in load_split(a.data, split)}
    recs = [json.loads(line) for line in a.raw.read_text().splitlines()]
    cache: dict[str, str] = json.loads(a.cache.read_text()) if a.cache.exists() else {}
    jobs: dict[str, str] = {}
    rows: list[tuple[str, str, str, str, str, Suggestion | None]] = []
    raw_of = {(r["task_id"], r["state"]): r["raw"] for r in recs}
    for name in a.policies.split(","):
        policy = POLICIES[name]
        for rec in recs:
            task = tasks[rec["task_id"]]
            sug = policy(task, rec["state"], rec)
            prog = _program(task, rec["state"], sug)
            key = hashlib.sha256(prog.encode()).hexdigest()
            if key not in cache:
                jobs[key] = prog
            rows.append((name, rec["split"], rec["state"], rec["task_id"], key, sug))
    with ThreadPoolExecutor(max_workers=2) as pool:
        for key, res in zip(jobs, pool.map(lambda p: run_program(p, timeout_s=10), jobs.values()), strict=True):
            cache[key] = res.status
    a.cache.write_text(json.dumps(cache))
    table: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for name, split, state, _tid, key, _ in rows:
        cell = table[(name, split, state)]
        cell[0] += cache[key] == "passed"
        cell[1] += 1
    for (name, split, state), (ok, n) in sorted(table.items()):
        print(f"{name:12s} {split:12s} {state:12s} {ok:4d}/{n:<4d} {100 * ok / n:5.1f}%")
    if a.compare:
        x, y = a.compare.split(":")
        status = {(p, tid, st): cache[key] for p, _sp, st, tid, key, _ in rows}
        sugs = {(p, tid, st): sug for p, _sp, st, tid, _key, sug in rows}
        for (pol, tid, st), v in status.items():
            if pol == x and v == "passed" and status.get((y, tid, st)) != "passed":
                print(f"+{x} -{y}: {tid} {st}\n   {x}: {sugs[(x, tid, st)]!r}\n   {y}: {sugs[(y, tid, st)]!r}")
    if a.show_failures:
        name, split, state = a.show_failures.split(":")
        for pname, sp, st, tid, key, sug in rows:
            if (pname, sp, st) == (name, split, state) and cache[key] != "passed":
                t = tasks[tid]
                print(f"--- {tid} ({cache[key]})  canonical: {t.canonical!r}")
                print(f"    got: {sug!r}")
                print(f"    raw: {raw_of[(tid, st)][:300]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
