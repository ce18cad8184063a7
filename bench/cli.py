"""``python -m bench``: the whole benchmark, one command.

Quick mode (CI smoke, a few minutes): 4 tasks per split, one short trace.
Full mode: 164 tasks per split (one per HumanEval problem), three traces.
Systems run one after another, never at once, so they never share the 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from bench import floor as floor_mod
from bench import realcode, report
from bench.fimlsp import FimLspServer
from bench.naive_run import NaiveSetup, run_naive
from bench.peer import InfillClient, InfillSettings, LlamaServer
from bench.procs import machine_busy_s, own_cpu_s
from bench.quality import (
    QualityRecord,
    canonical,
    empty_floor,
    execute_all,
    quality_run,
    quality_summary,
)
from bench.replay import BEHAVIOURS, RequestRecord, replay, summarize
from bench.scoring import percentile
from bench.systems import OursCompleter, PeerCompleter
from bench.tasks import (
    SPLITS,
    STATES,
    InfillTask,
    default_data_dir,
    load_split,
    select_per_problem,
    subsample,
)
from bench.traces import Trace, pick_traces
from lsp_server.models import sha256_file

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = Path.home() / ".cache/fim-lsp/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
PARTS = ("floor", "ours", "peer", "naive", "quality", "realcode", "typing")


@dataclass(frozen=True)
class Plan:
    tasks_per_split: int | None  # None: all 164
    traces: int
    trace_chars: tuple[int, int]
    floor_sizes: tuple[int, ...]
    floor_gen: int
    floor_reps: int
    realcode: int  # holes in standard-library modules (bench/realcode.py)


QUICK = Plan(4, 1, (100, 220), (8, 64, 256), 32, 1, 4)
FULL = Plan(None, 3, (250, 650), (8, 32, 128, 512), 64, 2, 100)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--quick", action="store_true", help="CI smoke: a few minutes")
    ap.add_argument("--data", type=Path, default=default_data_dir(REPO),
                    help="directory with HumanEval-*Infilling.jsonl.gz (default: %(default)s)")  # fmt: skip
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    ap.add_argument(
        "--model", type=Path, default=DEFAULT_MODEL, help="GGUF file used by all systems"
    )
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--ctx", type=int, default=4096, help="context size for fim-lsp and llama-server"
    )
    ap.add_argument("--seed", type=int, default=20261127)
    ap.add_argument("--tasks", type=int, default=None, help="tasks per split (default: plan)")
    ap.add_argument("--traces", type=int, default=None, help="typing traces (default: plan)")
    ap.add_argument("--skip", default="", help=f"comma list of parts to skip: {','.join(PARTS)}")
    ap.add_argument("--llama-prefix", type=Path, default=None,
                    help="llama.cpp install prefix (default: output of scripts/build-llama.sh)")  # fmt: skip
    ap.add_argument("--fim-lsp", default=str(Path(sys.executable).parent / "fim-lsp"),
                    help="command that starts fim-lsp on stdio")  # fmt: skip
    ap.add_argument("--settings", default="{}", help="extra fim-lsp initializationOptions (JSON)")
    ap.add_argument("--peer-greedy", action="store_true", help="the peer decodes greedily (top_k 1), not sampled")
    ap.add_argument("--peer-arg", action="append", default=[], help="extra llama-server argument")
    ap.add_argument("--splits", default=",".join(SPLITS), help="comma list of HumanEval-infilling splits")
    ap.add_argument("--states", default=",".join(STATES),
                    help="comma list of editor states fim-lsp and the floors are asked in (bench/tasks.py)")  # fmt: skip
    ap.add_argument("--realcode", type=int, default=None, help="holes of the real-code set (default: plan)")
    ap.add_argument("--peer-states", default="column0,mid-line", help="editor states the peer is asked in")
    return ap.parse_args(argv)


class Log:
    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def __call__(self, msg: str) -> None:
        print(f"[bench {time.monotonic() - self.t0:7.1f}s] {msg}", file=sys.stderr, flush=True)


def machine() -> str:
    cpu = "?"
    mem = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 2**20:.0f} GiB"
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, {mem} RAM, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def llama_prefix(args: argparse.Namespace) -> Path:
    if args.llama_prefix:
        return args.llama_prefix
    out = subprocess.run(["bash", str(REPO / "scripts" / "build-llama.sh")], capture_output=True,
                         text=True, check=True)  # fmt: skip
    return Path(out.stdout.strip().splitlines()[-1])


# --- per-system typing bookkeeping -------------------------------------------------------------


def _floor_of(rec: RequestRecord, model: floor_mod.FloorModel | None) -> float | None:
    if model is None:
        return None
    last, tim = rec.info.get("last"), rec.info.get("timings")
    if isinstance(last, dict) and last.get("nPrompt") is not None:
        # fim-lsp counts nPrompt as the whole prompt, nReused as the part the KV cache held.
        n_eval = (last.get("nPrompt") or 0) - (last.get("nReused") or 0)
        n_gen = last.get("nGenerated") or 0
    elif isinstance(tim, dict) and tim.get("prompt_n") is not None:
        n_eval, n_gen = tim.get("prompt_n") or 0, tim.get("predicted_n") or 0
    else:
        return None
    if n_eval + n_gen == 0 or rec.info.get("from_cache"):
        return None  # served from a cache: no model work at all
    return model.time(n_eval, n_gen)


def typing_summary(replays: list, tokens: dict, fmodel: floor_mod.FloorModel | None) -> dict:
    s = summarize(replays).as_dict()
    answered = [r for recs, _ in replays for r in recs if r.outcome in ("shown", "stale")]
    s["latencies_answered_s"] = [r.latency for r in answered if r.latency is not None]
    shown = [r for recs, _ in replays for r in recs if r.outcome == "shown"]
    floors: list[tuple[float, float]] = []
    for r in shown:
        f = _floor_of(r, fmodel)
        if f and r.latency is not None:
            floors.append((r.latency, f))
    s["floor"] = {
        "n": len(floors),
        "p50_s": percentile([f for _, f in floors], 50),
        "latency_over_floor_p50": percentile([lat / f for lat, f in floors], 50),
    }
    s["tokens"] = tokens
    return s


def _token_totals(
    evaluated: float | None, reused: float | None, gen: float | None, gen_s: float | None
) -> dict:
    total = (evaluated or 0) + (reused or 0)
    return {
        "prompt_evaluated": evaluated,
        "prompt_reused": reused,
        "reuse_share": (reused / total) if reused is not None and total else None,
        "generated": gen,
        "gen_tok_s": (gen / gen_s) if gen and gen_s else None,
    }


def _delta(a: dict | None, b: dict | None, key: str) -> float | None:
    if not a or not b or a.get(key) is None or b.get(key) is None:
        return None
    return b[key] - a[key]


def _sum_deltas(pairs: list[tuple[dict | None, dict | None]], key: str) -> float | None:
    """A counter's growth summed over (before, after) pairs; None if any read is missing."""
    ds = [_delta(a, b, key) for a, b in pairs]
    return None if any(d is None for d in ds) else sum(d for d in ds if d is not None)


def _records_json(replays: list, trace_names: list[str]) -> list[dict]:
    out = []
    for (recs, keys), name in zip(replays, trace_names, strict=False):
        out.append({
            "trace": name,
            "key_times": [round(k, 4) for k in keys],
            "requests": [{**asdict(r), "text": (r.text or "")[:400]} for r in recs],
        })  # fmt: skip
    return out


# --- the systems -------------------------------------------------------------------------------


async def run_ours(args, plan_tasks, traces, fmodel, out_dir, log, rec, holes=()) -> list[QualityRecord]:
    settings = {"model": str(args.model), "nThreads": args.threads, "nCtx": args.ctx,
                **json.loads(args.settings)}  # fmt: skip
    cmd = [*shlex.split(args.fim_lsp), "--log-file", str(out_dir / "fim-lsp.log")]
    server = FimLspServer(cmd, settings, out_dir / "fim-lsp.stderr")
    completer = OursCompleter(server)
    quality: list[QualityRecord] = []
    try:
        ready = await server.start()
        log(f"fim-lsp ready in {ready:.1f}s")
        async def ran() -> bool:
            stats = await server.stats()
            return bool(stats and stats.get("completed"))

        cold = await _cold_start(completer, traces, plan_tasks, server.spawned_at, ran)
        log(f"fim-lsp first completion {cold:.1f}s after spawn")
        rec["startup"]["ours"] = {"ready_s": ready, "cold_start_s": cold}
        if "typing" not in args.skip:
            by_beh: dict[str, list] = {b: [] for b in BEHAVIOURS}
            tok: dict[str, list] = {b: [] for b in BEHAVIOURS}
            for tr in traces:
                for beh in BEHAVIOURS:
                    uri = f"file:///bench/typing/ours-{beh}/{tr.name.replace(':', '_')}"
                    before, res, after = await _replay_one(completer, tr, beh, uri, server.stats)
                    by_beh[beh].append(res)
                    tok[beh].append((before, after))
                    log(f"fim-lsp {beh} {tr.name}: {summarize([res]).as_dict()['outcomes']}")
            for beh in BEHAVIOURS:
                d = {
                    k: _sum_deltas(tok[beh], k)
                    for k in ("nPrompt", "nReused", "nGenerated", "tGenS")
                }
                evaluated = None if d["nPrompt"] is None else d["nPrompt"] - (d["nReused"] or 0)
                tokens = _token_totals(evaluated, d["nReused"], d["nGenerated"], d["tGenS"])
                n_req = sum(len(recs) for recs, _ in by_beh[beh])
                if n_req and d["nPrompt"] == 0:
                    rec["notes"].append(
                        f"fim-lsp {beh}: fimLsp/stats did not move over {n_req} requests; "
                        "work on requests that were cancelled is not counted there."
                    )
                rec["typing"].setdefault(beh, {})["ours"] = typing_summary(
                    by_beh[beh], tokens, fmodel
                )
                rec["raw"]["typing"][f"ours/{beh}"] = _records_json(
                    by_beh[beh], [t.name for t in traces]
                )
        if "quality" not in args.skip:
            for split, tasks in plan_tasks.items():
                log(f"fim-lsp quality {split}: {len(tasks)} tasks")
                quality += await quality_run(completer, tasks, f"ours-{split}", _progress(log, f"fim-lsp {split}"),
                                             args.states)  # fmt: skip
        if holes:
            log(f"fim-lsp real-code holes: {len(holes)} x {len(realcode.STATES)} states")
            rec["raw"]["realcode"]["ours"] = await realcode.ask_holes(completer, holes)
        rec["startup"]["ours"]["stats_end"] = await server.stats()
        rec["startup"]["ours"]["peak_rss_bytes"] = server.peak_rss()
        if rec["startup"]["ours"]["stats_end"] is None:
            rec["notes"].append("fim-lsp did not answer fimLsp/stats: no token counts for it.")
    finally:
        await server.stop()
    return quality


async def run_peer(
    args, plan_tasks, traces, fmodel, prefix, out_dir, log, rec
) -> list[QualityRecord]:
    server = LlamaServer(prefix / "bin" / "llama-server", args.model, threads=args.threads,
                         ctx_size=args.ctx, log_path=out_dir / "llama-server.log",
                         extra_args=tuple(args.peer_arg))  # fmt: skip
    rec["meta"]["peer_argv"] = server.argv
    quality: list[QualityRecord] = []
    isettings = InfillSettings(seed=args.seed % (2**31), greedy=args.peer_greedy)
    rec["meta"]["peer_sampling"] = "greedy (top_k 1)" if args.peer_greedy else "llama.vscode's (top_k 40, top_p 0.99)"
    try:
        ready = await server.start()
        log(f"llama-server ready in {ready:.1f}s")
        first = InfillClient(server.url, isettings, wait_for_previous=False)
        cold = await _cold_start(PeerCompleter(first), traces, plan_tasks, server.spawned_at)
        await first.aclose()
        log(f"llama-server first completion {cold:.1f}s after spawn")
        rec["startup"]["peer"] = {"ready_s": ready, "cold_start_s": cold}
        if "typing" not in args.skip:
            by_beh: dict[str, list] = {b: [] for b in BEHAVIOURS}
            answers: dict[str, list] = {b: [] for b in BEHAVIOURS}
            for tr in traces:
                for beh in BEHAVIOURS:
                    # llama.vscode waits for the request in flight; llama.vim stops it.
                    client = InfillClient(
                        server.url, isettings, wait_for_previous=beh == "every-change"
                    )
                    uri = f"peer-{beh}-{tr.name}"
                    _, res, _ = await _replay_one(PeerCompleter(client), tr, beh, uri, None)
                    while client._busy:  # a superseded request still running: let it end
                        await asyncio.sleep(0.1)
                    await asyncio.sleep(0.5)
                    by_beh[beh].append(res)
                    answers[beh] += client.answers[1:]  # the first is the untimed warm-up request
                    await client.aclose()
                    log(f"llama-server {beh} {tr.name}: {summarize([res]).as_dict()['outcomes']}")
            for beh in BEHAVIOURS:
                tims = [a.timings for a in answers[beh] if a.timings]
                ev = sum(t.get("prompt_n", 0) for t in tims)
                reused = sum(t["cache_n"] for t in tims if "cache_n" in t) if any("cache_n" in t for t in tims) \
                    else sum(a.tokens_cached or 0 for a in answers[beh])  # fmt: skip
                gen = sum(t.get("predicted_n", 0) for t in tims)
                gen_s = sum(t.get("predicted_ms", 0) for t in tims) / 1000
                tokens = _token_totals(ev, reused, gen, gen_s)
                tokens["counted"] = "requests that ran to the end (aborted ones report nothing)"
                rec["typing"].setdefault(beh, {})["peer"] = typing_summary(
                    by_beh[beh], tokens, fmodel
                )
                rec["raw"]["typing"][f"peer/{beh}"] = _records_json(
                    by_beh[beh], [t.name for t in traces]
                )
        if "quality" not in args.skip:
            client = InfillClient(server.url, isettings, wait_for_previous=False)
            for split, tasks in plan_tasks.items():
                log(f"llama-server quality {split}: {len(tasks)} tasks")
                quality += await quality_run(PeerCompleter(client), tasks, f"peer-{split}",
                                             _progress(log, f"llama-server {split}"), args.peer_states)  # fmt: skip
            await client.aclose()
        rec["startup"]["peer"]["peak_rss_bytes"] = server.peak_rss()
    finally:
        server.stop()
    return quality


async def _cold_start(completer, traces: list[Trace], plan_tasks, spawned_at: float, ran=None) -> float:
    """Spawn -> the first suggestion; with ``ran`` (True once the server has answered from a
    model run), an empty answer after a model run ends it too: the position may deserve none."""
    if traces:
        text, off = traces[0].initial_text, traces[0].cursor
    else:
        text, off = next(iter(plan_tasks.values()))[0].editor_text()
    uri = "file:///bench/cold/start.py"
    completer.open(uri, text)
    # A server still loading may answer with nothing; ask again until a suggestion comes.
    while time.monotonic() - spawned_at < 900:
        reply = await completer.complete(uri, text, off, False)
        if reply.text or (ran is not None and await ran()):
            break
        await asyncio.sleep(0.25)
    completer.close(uri)
    return time.monotonic() - spawned_at


async def _replay_one(completer, tr: Trace, beh: str, uri: str, stats):
    """A warm-up request on the opened file (the user looked at it first), then the replay."""
    completer.open(uri, tr.initial_text)
    await completer.complete(uri, tr.initial_text, tr.cursor, False)
    before = await stats() if stats else None
    res = await replay(tr, completer, beh, uri=uri)
    await asyncio.sleep(1.0)  # let a cancelled request wind down before reading counters
    after = await stats() if stats else None
    completer.close(uri)
    return before, res, after


def _progress(log: Log, label: str):
    def cb(i: int, n: int) -> None:
        if i == n or i % 20 == 0:
            log(f"{label}: {i}/{n}")

    return cb


# --- scoring -----------------------------------------------------------------------------------


# --- main --------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> int:
    log = Log()
    plan = QUICK if args.quick else FULL
    args.skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    args.splits = [s for s in args.splits.split(",") if s]
    args.states = tuple(s for s in args.states.split(",") if s)
    args.peer_states = tuple(s for s in args.peer_states.split(",") if s)
    for name, given, known in (("--splits", args.splits, SPLITS), ("--states", args.states, STATES),
                               ("--peer-states", args.peer_states, STATES)):  # fmt: skip
        if set(given) - set(known):
            raise SystemExit(f"unknown {name}: {sorted(set(given) - set(known))}; known: {', '.join(known)}")
    unknown = args.skip - set(PARTS)
    if unknown:
        raise SystemExit(f"unknown --skip parts: {sorted(unknown)}")
    started = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H-%M-%SZ")
    out_dir = args.out / f"{started}-{'quick' if args.quick else 'full'}"
    out_dir.mkdir(parents=True, exist_ok=True)
    argv_str = "python -m bench " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    rec: dict = {
        "meta": {"started": started, "quick": args.quick, "machine": machine(), "model": str(args.model),
                 "threads": args.threads, "ctx": args.ctx, "seed": args.seed, "command": argv_str,
                 "plan": asdict(plan)},  # fmt: skip
        "floor": {}, "quality": {}, "typing": {}, "startup": {}, "traces": [], "notes": [],
        "realcode": {}, "raw": {"typing": {}, "quality": {}, "realcode": {}},
    }  # fmt: skip
    rec["meta"]["loadavg_start"] = os.getloadavg()
    busy0, own0 = machine_busy_s(), own_cpu_s()
    if not args.model.is_file():
        raise SystemExit(f"model not found: {args.model}")
    rec["meta"]["model_sha256"] = sha256_file(args.model)
    need_llama = bool({"floor", "peer", "naive"} - args.skip)
    prefix = llama_prefix(args) if need_llama else Path("/nonexistent")
    if need_llama:
        v = subprocess.run(
            [str(prefix / "bin" / "llama-server"), "--version"], capture_output=True, text=True
        )
        rec["meta"]["llama_build"] = " ".join((v.stdout + v.stderr).split())[-120:]
        rec["meta"]["llama_prefix"] = str(prefix)

    n_tasks = args.tasks if args.tasks is not None else plan.tasks_per_split
    plan_tasks: dict[str, list[InfillTask]] = {}
    if "quality" not in args.skip:
        for split in args.splits:
            plan_tasks[split] = subsample(
                select_per_problem(load_split(args.data, split), args.seed), n_tasks, args.seed
            )
    all_tasks = {t.task_id: t for ts in plan_tasks.values() for t in ts}
    traces: list[Trace] = []
    if "typing" not in args.skip:
        traces = pick_traces(args.traces or plan.traces, seed=args.seed, min_chars=plan.trace_chars[0],
                             max_chars=plan.trace_chars[1])  # fmt: skip
        rec["traces"] = [{"name": t.name, "path": t.source_path, "sha256": t.source_sha256,
                          "body_chars": len(t.body), "keystrokes": len(t.keystrokes), "duration_s": t.end_t,
                          "pauses": sum(g >= 0.3 for g in t.gaps())} for t in traces]  # fmt: skip
    log(f"plan: {sum(map(len, plan_tasks.values()))} tasks, {len(traces)} traces -> {out_dir}")

    fmodel = None
    if "floor" not in args.skip:
        log("floor: llama-bench")
        fmodel, rows = floor_mod.measure(prefix / "bin" / "llama-bench", args.model, threads=args.threads,
                                         sizes=plan.floor_sizes, n_gen=plan.floor_gen, reps=plan.floor_reps)  # fmt: skip
        rec["floor"] = {"model": fmodel.as_dict(), "llama_bench": rows}
        log(f"floor: {fmodel}")

    quality: dict[str, list[QualityRecord]] = {}
    n_holes = args.realcode if args.realcode is not None else plan.realcode
    holes = realcode.pick_holes(n_holes, seed=args.seed) if "realcode" not in args.skip else []
    if "ours" not in args.skip:
        quality["ours"] = await run_ours(args, plan_tasks, traces, fmodel, out_dir, log, rec, holes)
    if "peer" not in args.skip:
        quality["peer"] = await run_peer(
            args, plan_tasks, traces, fmodel, prefix, out_dir, log, rec
        )
    if "naive" not in args.skip and (plan_tasks or holes):
        setup = NaiveSetup(args.model, args.threads, args.ctx, prefix / "lib", out_dir)
        tasks = [t for ts in plan_tasks.values() for t in ts]
        naive_quality, naive_code = run_naive(setup, tasks, holes, args.states, log)
        for r in naive_quality:
            quality.setdefault(r.system, []).append(r)
        if naive_code:
            rec["raw"]["realcode"]["naive-first-line"] = naive_code
    if "quality" not in args.skip:
        ts = list(all_tasks.values())
        quality["empty"] = empty_floor(ts, args.states)
        solutions = canonical(ts)
        execute_all({**quality, "canonical": solutions}, log)
        ok = sum(r.status == "passed" for r in solutions)
        rec["quality_check"] = f"{ok}/{len(solutions)}"
        if ok != len(solutions):
            rec["notes"].append(
                f"only {ok}/{len(solutions)} canonical solutions pass: harness problem"
            )
        for name, recs in quality.items():
            rec["quality"][name] = quality_summary(recs, all_tasks)
            rec["raw"]["quality"][name] = [{**asdict(r), "program": None} for r in recs]

    for name, rows in rec["raw"]["realcode"].items():
        rec["realcode"][name] = realcode.summary(rows)
    if holes:
        rec["realcode_holes"] = [{"hole": h.hole_id, "path": h.path, "sha256": h.sha256} for h in holes]
    rec["meta"]["wall_s"] = time.monotonic() - log.t0
    rec["meta"]["loadavg_end"] = os.getloadavg()
    busy1 = machine_busy_s()
    if busy0 is not None and busy1 is not None:
        foreign = max(0.0, (busy1 - busy0) - (own_cpu_s() - own0))
        rec["meta"]["foreign_cpu_share"] = foreign / (rec["meta"]["wall_s"] * (os.cpu_count() or 1))
    (out_dir / "record.json").write_text(json.dumps(rec, indent=1, default=str))
    md = report.markdown(rec)
    (out_dir / "table.md").write_text(md)
    plotted = report.plot(rec, out_dir / "latency.png")
    print(md)
    log(
        f"wrote {out_dir}/record.json, table.md"
        + (", latency.png" if plotted else " (no plot: matplotlib missing)")
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return asyncio.run(run(args))
