"""The next-edit benchmark: run `bench.nextedit_set`'s cases through the same `predict` the
server runs, on the in-process engine, and score them.

    .venv/bin/python -m bench.nextedit --model qwen2.5-coder-0.5b-offline [--limit-per-category N]

Scores per category: exact (the buffer after the predicted edits equals the expected one),
found (share of the expected word edits among the predicted ones), false edits (no-edit cases
with any edit shown), latency p50/p95 of `predict` (the keystroke's prompt to the edits). Beside
the product (`model`): every follow-up the rules propose, made without the model (`carry-all`:
is the model worth it?); for rename cases a plain search-and-replace of the renamed identifier in
the same region; in rewrite mode, the same prompt without the edit history. See bench/nextedit.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from bench.nextedit_set import CATEGORIES, NO_EDIT, SELECTIONS, Case, build
from bench.scoring import percentile
from lsp_server.config import EngineSettings
from lsp_server.documents import Snapshot
from lsp_server.engine.base import CancelToken
from lsp_server.engine.llama_cpp import LlamaCppEngine
from lsp_server.nextedit.edits import apply, region_edits
from lsp_server.nextedit.history import EditHistory, changed_lines
from lsp_server.nextedit.predict import MODES, Options, predict
from lsp_server.nextedit.prompt import Region, RegionBudget, choose_region

log = logging.getLogger("bench.nextedit")
URI_ROOT = "file:///stdlib/"
RENAMES = ("rename_param", "rename_local")


@dataclass
class Score:
    case_id: str
    category: str
    system: str
    exact: bool
    found: float  # share of expected edits predicted (1.0 where none were expected)
    edits: int  # edits shown
    seconds: float = 0.0
    n_prompt: int = 0
    n_reused: int = 0
    n_generated: int = 0
    stop: str = ""
    dropped: str = ""
    # carry mode: per proposed line, its variants' log-probabilities and which variant is expected
    choices: list[dict[str, object]] = field(default_factory=list)


def whole(text: str) -> Region:
    return Region(0, text.count("\n") + 1, 0, len(text), text, 0)


def word_edits(old: str, new: str) -> set[tuple[int, int, str]]:
    """The word edits from ``old`` to ``new``, offsets in ``old``; only the lines that differ
    (`history.changed_lines`) are diffed: a whole module through difflib takes seconds."""
    span = changed_lines(Snapshot("", old, 1), Snapshot("", new, 2))
    if span is None:
        return set()
    first, old_last, new_last = span
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    at = sum(map(len, a[:first]))
    middle = whole("".join(a[first : old_last + 1]))
    return {(at + e.start, at + e.end, e.text) for e in region_edits(middle, "".join(b[first : new_last + 1]))}


def score(case: Case, system: str, predicted: str, shown: int, seconds: float = 0.0) -> Score:
    expected = word_edits(case.buffer, case.expected)
    got = word_edits(case.buffer, predicted)
    found = len(expected & got) / len(expected) if expected else 1.0
    return Score(case.case_id, case.category, system, predicted == case.expected, found, shown, seconds)


def snapshots(case: Case) -> tuple[Snapshot, Snapshot]:
    uri = URI_ROOT + case.module
    before = case.buffer[: case.first_start] + case.first_old + case.buffer[case.first_end :]
    return Snapshot(uri, before, 1, "python"), Snapshot(uri, case.buffer, 2, "python")


def run_model(engine: LlamaCppEngine, case: Case, system: str, options: Options, warm: bool = False) -> Score:
    """One case; ``warm``: the keystroke before the last one was predicted first (untimed), as
    the server would have, so the timed run starts from that prompt's KV cache."""
    info = engine.info()
    old, new = snapshots(case)
    history = EditHistory()
    paths: Callable[[str], str] = lambda uri: uri.removeprefix(URI_ROOT)  # noqa: E731
    if warm and case.first_end > case.first_start:
        typed = new.text[: case.first_end - 1] + new.text[case.first_end :]
        previous = Snapshot(new.uri, typed, 2, "python")
        history.record(old, previous)
        predict(engine, info, previous, case.cursor - 1, history.recent(new.uri), paths, CancelToken(), options)
        old = previous
    history.record(old, new)
    hunks = history.recent(new.uri)
    found = predict(engine, info, new, case.cursor, hunks, paths, CancelToken(), options)
    predicted = apply(new.text, found.edits)
    out = score(case, system, predicted, len(found.edits), found.seconds)
    if found.result is not None:
        r = found.result
        out.n_prompt, out.n_reused, out.n_generated, out.stop = r.n_prompt, r.n_reused, r.n_generated, r.stop_reason
    out.dropped = ",".join(f"{k}:{v}" for k, v in sorted(found.dropped.items()))
    expected_lines = case.expected.splitlines(keepends=True)
    for line, texts, logprobs in found.choices:
        want = expected_lines[line] if line < len(expected_lines) else ""
        out.choices.append({"line": line, "logprobs": [round(x, 3) for x in logprobs],
                            "expected": texts.index(want) if want in texts else -1, "variants": list(texts)})
    return out


def search_replace(engine: LlamaCppEngine, case: Case, budget: RegionBudget) -> Score:
    """What a user would do instead: replace the old name by the new in the same region."""
    _, new = snapshots(case)
    region = choose_region(new, case.cursor, budget, engine.count_tokens)
    text = re.sub(rf"\b{re.escape(case.old_name)}\b", case.new_name, region.text)
    predicted = new.text[: region.start] + text + new.text[region.end :]
    return score(case, "search-replace", predicted, int(text != region.text))


def summary(scores: list[Score]) -> dict[str, dict[str, object]]:
    groups: dict[str, list[Score]] = defaultdict(list)
    for s in scores:
        groups[f"{s.system}/{s.category}"].append(s)
        if s.category in ("rename_param", "rename_local", "add_param", "swap_params"):
            groups[f"{s.system}/rename+signature"].append(s)
        if s.category in NO_EDIT:
            groups[f"{s.system}/no_edit+lookalike"].append(s)
    out: dict[str, dict[str, object]] = {}
    for key, group in sorted(groups.items()):
        times = [s.seconds for s in group if s.seconds]
        row: dict[str, object] = {"n": len(group)}
        if key.split("/")[1].startswith("no_edit"):
            row["false_edit_rate"] = round(sum(s.edits > 0 for s in group) / len(group), 3)
        else:
            row["exact"] = round(sum(s.exact for s in group) / len(group), 3)
            row["found"] = round(sum(s.found for s in group) / len(group), 3)
        if times:
            row["p50_s"] = round(percentile(times, 50) or 0, 2)
            row["p95_s"] = round(percentile(times, 95) or 0, 2)
        out[key] = row
    return out


def first_of_each(cases: list[Case], n: int) -> list[Case]:
    """The first ``n`` cases of each category, in the set's order."""
    seen: dict[str, int] = defaultdict(int)
    kept = []
    for case in cases:
        seen[case.category] += 1
        if seen[case.category] <= n:
            kept.append(case)
    return kept


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="qwen2.5-coder-0.5b-offline")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit-per-category", type=int, default=0, help="0: every case")
    ap.add_argument("--categories", default=",".join(CATEGORIES))
    ap.add_argument("--no-baseline", action="store_true",
                    help="skip the no-history run (rewrite mode only: carry mode proposes nothing without history)")
    ap.add_argument("--min-confidence", type=float, default=Options().min_confidence)
    ap.add_argument("--warm", action="store_true", help="time from the last keystroke (previous one run first)")
    ap.add_argument("--mode", choices=MODES, default=Options().mode,
                    help="carry: the model chooses among follow-ups the edit proposes; rewrite: it rewrites freely")
    ap.add_argument("--margin", type=float, default=Options().margin, help="carry: nats per change in its favour")
    ap.add_argument("--selection", choices=sorted(SELECTIONS), default="dev",
                    help="the modules the cases come from (heldout: scored only at the end of a round)")
    ap.add_argument("--no-rules-baseline", action="store_true", help="skip carry-all (every proposed follow-up)")
    ap.add_argument("--details", help="write every case's scores to this JSON file")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    wanted = args.categories.split(",")
    cases = [c for c in build(selection=args.selection) if c.category in wanted]
    if args.limit_per_category:
        cases = first_of_each(cases, args.limit_per_category)
    engine = LlamaCppEngine(EngineSettings(model=args.model, n_threads=args.threads))
    engine.load(lambda msg, _pct: log.info("%s", msg))
    # No time limit: quality figures must not depend on the load of a shared machine.
    options = Options(min_confidence=args.min_confidence, budget_s=None, mode=args.mode, margin=args.margin)
    scores: list[Score] = []
    t0 = time.monotonic()
    for i, case in enumerate(cases):
        scores.append(run_model(engine, case, "model", options, args.warm))
        s = scores[-1]
        if not args.no_baseline and args.mode == "rewrite":  # carry mode without history has nothing to carry
            scores.append(run_model(engine, case, "no-history", replace(options, history=False)))
        if not args.no_rules_baseline and args.mode == "carry":
            scores.append(run_model(engine, case, "carry-all", replace(options, judge_all=True)))
        if case.category in RENAMES:
            scores.append(search_replace(engine, case, options.budget))
        log.info("%d/%d %s exact=%s found=%.2f edits=%d %.2fs prompt=%d reused=%d gen=%d %s %s", i + 1, len(cases),
                 case.case_id, s.exact, s.found, s.edits, s.seconds, s.n_prompt, s.n_reused, s.n_generated, s.stop,
                 s.dropped)
    report = {"model": args.model, "threads": args.threads, "cases": len(cases), "mode": args.mode,
              "margin": args.margin, "selection": args.selection,
              "wall_s": round(time.monotonic() - t0, 1), "summary": summary(scores)}
    print(json.dumps(report, indent=1))
    if args.details:
        with open(args.details, "w", encoding="utf-8") as fh:
            json.dump([s.__dict__ for s in scores], fh, indent=1)
    engine.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
