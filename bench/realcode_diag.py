"""Why a real-code hole got what it got: ``python -m bench.realcode_diag OUT.jsonl``.

For each hole of a selection (as ``python -m bench`` picks them), in process and without the
protocol: the prompt fim-lsp builds (`pipeline.prepare` with the file's language), the engine's
greedy continuation with the run's constraints, stopped where the cut rules stop the server, no
time budget, then each
post-processing stage on it: the cut (`clean`), the parse gate, the placed suggestion
(`Prepared.finish`), and the row `bench.realcode.hole_record` scores. An empty answer is thus
traced to its stage: the model's end of text first, the cut, or the gate. ``--rescore`` reruns
the stages on a recorded file (seconds: for post-processing work; valid while the prompt and
the constraints are unchanged). A design tool: quoted figures come from ``python -m bench``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from bench.realcode import (
    DEFAULT_LANGUAGES,
    CodeHole,
    empty_where_floor_answers,
    hole_record,
    pick_holes,
    summary,
)
from lsp_server.config import PromptSettings, Settings
from lsp_server.pipeline import Prepared, job_for, prepare
from lsp_server.postprocess.cut import clean
from lsp_server.postprocess.gate import gate

NO_BUDGET_MS = 3_600_000  # quality must not depend on the machine's load


def _prepare(hole: CodeHole, settings: PromptSettings, count) -> Prepared:  # type: ignore[no-untyped-def]
    view = hole.view()
    prepared, _ = prepare(view.text, view.offset, settings, count, language=hole.language)
    return prepared


def stages(hole: CodeHole, prepared: Prepared, raw: str, stop_reason: str) -> dict:
    """Each stage's text for one raw continuation, and where the suggestion became empty."""
    ctx = prepared.ctx
    cut = clean(raw, ctx, stop_reason)
    gated = gate(cut, ctx.before, ctx.after, ctx.language)
    sug = prepared.finish(raw, stop_reason)
    view = hole.view()
    if sug is not None:
        buffer, _ = sug.apply(view.text, view.offset)
    else:
        buffer = view.text
    dropped = None
    if sug is None:
        dropped = "model" if not raw.strip() else "cut" if not cut.strip() else "gate" if not gated.strip() else "place"
    return {"cut": cut, "gated": gated, "dropped_by": dropped, **hole_record(hole, buffer, sug is not None, None)}


def _ask(engine, hole: CodeHole, p: Prepared, second_chance: bool) -> dict:  # type: ignore[no-untyped-def]
    """One hole through the engine, no time budget; with ``second_chance``, a refused answer
    is asked again with its first word barred, as the server does (`run.run_prepared`)."""
    from lsp_server.engine.base import CancelToken

    p = replace(p, budget_ms=NO_BUDGET_MS)
    res = engine.generate(job_for(p, p.should_stop()), CancelToken())
    row = {"raw": res.text, "stop_reason": res.stop_reason, "n_prompt": res.n_prompt,
           "n_generated": res.n_generated, **stages(hole, p, res.text, res.stop_reason)}  # fmt: skip
    again = p.second_chance(res.text) if second_chance and row["dropped_by"] not in (None, "model") else None
    if again is None:
        return row
    res = engine.generate(job_for(again, again.should_stop()), CancelToken())
    first = {"refused_raw": row["raw"], "refused_by": row["dropped_by"]}
    return {**row, "raw": res.text, "stop_reason": res.stop_reason, "n_generated": row["n_generated"] + res.n_generated,
            **stages(hole, again, res.text, res.stop_reason), **first}  # fmt: skip


def _floor(holes: list[CodeHole], out: Path) -> list[dict]:
    import subprocess

    from bench.cli import DEFAULT_MODEL, REPO
    from bench.naive_run import NaiveSetup, _run, hole_jobs, hole_rows

    prefix = Path(subprocess.run(["bash", str(REPO / "scripts" / "build-llama.sh")], capture_output=True, text=True,
                                 check=True).stdout.split()[-1])  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    setup = NaiveSetup(DEFAULT_MODEL, 2, 4096, prefix / "lib", out.parent)
    rows = hole_rows(holes, _run(setup, hole_jobs(holes), lambda m: print(m, file=sys.stderr)))
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows


def _cold_timing(holes: list[CodeHole], settings: Settings, spec: str) -> int:
    """What a larger window costs where nothing is cached (a file just opened, the anchor
    moved): prompt tokens and evaluation seconds per window, measured alternately."""
    from lsp_server.engine.base import CancelToken
    from lsp_server.engine.llama_cpp import LlamaCppEngine

    windows = [tuple(int(x) for x in w.split(",")) for w in spec.split(";")]
    engine = LlamaCppEngine(replace(settings.engine, kv_reuse=False, lookup_decoding=False))
    engine.load(lambda *_: None)
    totals = {w: [0, 0.0] for w in windows}
    for h in holes:
        for w in windows:
            ps = replace(settings.prompt, prefix_tokens=w[0], suffix_tokens=w[1])
            p = _prepare(h, ps, engine.count_tokens)
            res = engine.generate(replace(job_for(p), max_tokens=1, time_budget_s=None), CancelToken())
            totals[w][0] += res.n_prompt - res.n_reused
            totals[w][1] += res.t_prompt_s
    base = totals[windows[0]]
    for w, (n, t) in totals.items():
        print(f"window {w[0]}/{w[1]} tokens: {n / len(holes):.0f} prompt tokens a hole, {t / len(holes):.2f} s to "
              f"evaluate cold ({n / max(1, base[0]):.2f}x the tokens, {t / max(1e-9, base[1]):.2f}x the time of "
              f"{windows[0][0]}/{windows[0][1]})")  # fmt: skip
    return 0


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _print_figures(rows: list[dict], floor: list[dict] | None) -> None:
    """Per language: first-line EM/ES, whole EM/ES, empty answers (the floor's after a slash)."""
    ours = summary(rows)
    theirs = summary([r for r in floor if r["hole"] in {x["hole"] for x in rows}]) if floor else {}
    empty = empty_where_floor_answers(rows, floor) if floor else {}

    def pair(key: str, metric: str, fmt: str) -> str:
        a = fmt.format(ours[key][metric] * (100 if "%" in fmt else 1))
        return a + (" / " + fmt.format(theirs[key][metric] * (100 if "%" in fmt else 1)) if key in theirs else "")

    for key in sorted((k for k in ours if " / " not in k), key=lambda k: (k == "all", k)):
        extra = f", empty where the floor answered {empty[key][0]}/{empty[key][1]}" if key in empty else ""
        print(f"{key:11} n={ours[key]['n']:3} first EM {pair(key, 'first_exact', '{:.1f}%')} ES "
              f"{pair(key, 'first_es', '{:.3f}')} | whole EM {pair(key, 'exact_match', '{:.1f}%')} ES "
              f"{pair(key, 'edit_similarity', '{:.3f}')} | empty {pair(key, 'empty', '{}')}{extra}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.realcode_diag", description=__doc__)
    ap.add_argument("out", type=Path)
    ap.add_argument("--model", default="qwen2.5-coder-0.5b-offline")
    ap.add_argument("--seed", type=int, default=20261127)
    ap.add_argument("--realcode", type=int, default=10, help="holes per language")
    ap.add_argument("--langs", default=",".join(DEFAULT_LANGUAGES))
    ap.add_argument("--part", default="dev")
    ap.add_argument("--kinds", default="", help="only holes of these kinds (line,block,mid-line)")
    ap.add_argument("--rescore", action="store_true", help="rerun the stages on OUT's raw text, no model")
    ap.add_argument("--settings", default="{}", help="prompt settings, flat snake_case names (JSON)")
    ap.add_argument("--cold-timing", default="",
                    help="prefix,suffix token windows to time against each other, e.g. 384,128;768,256: the "
                         "cold prompt evaluation of each hole under each window, alternating, in one run")
    ap.add_argument("--no-second-chance", action="store_true",
                    help="show nothing where post-processing refuses the first answer (the server asks once more)")
    ap.add_argument("--against", type=Path, default=None, help="a --floor file: print its figures beside")
    ap.add_argument("--floor", action="store_true", help="the plain first-line script on the holes instead (bench.naive)")
    a = ap.parse_args(argv)
    settings = Settings.of(model=a.model, n_threads=2, **json.loads(a.settings))
    holes = pick_holes(a.realcode, seed=a.seed, languages=tuple(a.langs.split(",")), part=a.part,
                       log=lambda m: print(m, file=sys.stderr))  # fmt: skip
    if a.kinds:
        holes = [h for h in holes if h.kind in a.kinds.split(",")]
    rows = []
    if a.cold_timing:
        return _cold_timing(holes, settings, a.cold_timing)
    if a.floor:
        rows = _floor(holes, a.out)
    elif a.rescore:
        raws = {r["hole"]: r for r in map(json.loads, a.out.read_text().splitlines())}
        for h in holes:
            if h.hole_id in raws:
                r = raws[h.hole_id]
                p = _prepare(h, settings.prompt, lambda s: max(1, len(s) // 4))
                rows.append({**r, **stages(h, p, r["raw"], r["stop_reason"])})
    else:
        from lsp_server.engine.llama_cpp import LlamaCppEngine

        second_chance = not a.no_second_chance
        engine = LlamaCppEngine(settings.engine)
        engine.load(lambda *_: None)
        t0 = time.monotonic()
        with a.out.open("w") as out:
            for i, h in enumerate(holes):
                p = _prepare(h, settings.prompt, engine.count_tokens)
                row = _ask(engine, h, p, second_chance)
                rows.append(row)
                out.write(json.dumps(row) + "\n")
                out.flush()
                print(f"[{time.monotonic() - t0:6.0f}s] {i + 1}/{len(holes)} {h.hole_id}", file=sys.stderr)
    _print_figures(rows, _read(a.against) if a.against else None)
    drops: dict[str, int] = {}
    for r in rows:
        if r.get("dropped_by"):
            drops[r["dropped_by"]] = drops.get(r["dropped_by"], 0) + 1
    print("empty answers by stage:", drops)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
