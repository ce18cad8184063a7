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
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench import cold, realcode, record, report
from bench import floor as floor_mod
from bench.naive_run import NaiveSetup, run_naive
from bench.peer import InfillSettings
from bench.procs import machine_busy_s, own_cpu_s
from bench.quality import QualityRecord, canonical, empty_floor, execute_all
from bench.record import QualityScores
from bench.runner import SystemResult, Workload, run_system
from bench.systems import FimLsp, LlamaServerInfill
from bench.tasks import (
    SPLITS,
    STATES,
    InfillTask,
    default_data_dir,
    load_split,
    select_per_problem,
    subsample,
)
from bench.traces import Trace, pick_traces, stdlib_dir
from lsp_server.models import sha256_file

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = Path.home() / ".cache/fim-lsp/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
PARTS = ("floor", "ours", "peer", "naive", "quality", "realcode", "typing", "cold")


@dataclass(frozen=True)
class Plan:
    tasks_per_split: int | None  # None: all 164
    traces: int
    trace_chars: tuple[int, int]
    floor_sizes: tuple[int, ...]
    floor_gen: int
    floor_reps: int
    realcode: int  # real-code holes per language (bench/realcode.py)
    cold_files: int  # files of the cold first-suggestion part (bench/cold.py)


QUICK = Plan(4, 1, (100, 220), (8, 64, 256), 32, 1, 2, 1)
FULL = Plan(None, 3, (250, 650), (8, 32, 128, 512), 64, 2, 20, len(cold.DEFAULT_FILES))


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
    ap.add_argument("--look", type=float, default=0.0,
                    help="typing and real-code holes: seconds the user looks at the opened file before the first "
                         "request, the cursor reported by fim-lsp's client (default: %(default)s, asks at once)")
    ap.add_argument("--skip", default="", help=f"comma list of parts to skip: {','.join(PARTS)}")
    ap.add_argument("--llama-prefix", type=Path, default=None,
                    help="llama.cpp install prefix (default: output of scripts/build-llama.sh)")  # fmt: skip
    ap.add_argument("--fim-lsp", default=str(Path(sys.executable).parent / "fim-lsp"),
                    help="command that starts fim-lsp on stdio")  # fmt: skip
    ap.add_argument("--settings", default="{}", help="extra fim-lsp initializationOptions (JSON)")
    ap.add_argument("--typing-workspace", action="store_true",
                    help="fim-lsp's workspace folder is the standard library and each typing trace is opened "
                         "at its module's own path, so repoContext finds what the module imports")  # fmt: skip
    ap.add_argument("--peer-greedy", action="store_true", help="the peer decodes greedily (top_k 1), not sampled")
    ap.add_argument("--peer-arg", action="append", default=[], help="extra llama-server argument")
    ap.add_argument("--splits", default=",".join(SPLITS), help="comma list of HumanEval-infilling splits")
    ap.add_argument("--states", default=",".join(STATES),
                    help="comma list of editor states fim-lsp and the floors are asked in (bench/tasks.py)")  # fmt: skip
    ap.add_argument("--realcode", type=int, default=None,
                    help="real-code holes per language (default: plan; bench/realcode.md)")  # fmt: skip
    ap.add_argument("--realcode-langs", default=",".join(realcode.DEFAULT_LANGUAGES),
                    help="comma list of the real-code set's languages (one whose sources are missing is skipped)")
    ap.add_argument("--realcode-part", default="dev", choices=realcode.PARTS,
                    help="which half of the real-code files the holes come from: dev (rules are developed on "
                         "it), held (scored once, at the end) or all")  # fmt: skip
    ap.add_argument("--peer-states", default="column0,mid-line", help="editor states the peer is asked in")
    ap.add_argument("--cold-gap-ms", type=int, default=cold.DEFAULT_GAP_MS,
                    help="cold part: from didOpen to the first request (default: %(default)s; bench/cold.py)")  # fmt: skip
    return ap.parse_args(argv)


class Log:
    """Progress with the time since the start, on stderr: stdout carries the tables."""

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


@dataclass(frozen=True)
class Selection:
    """What --skip, --splits, --states and --peer-states chose, checked against what exists."""

    skip: frozenset[str]
    splits: list[str]
    states: tuple[str, ...]
    peer_states: tuple[str, ...]

    def runs(self, part: str) -> bool:
        return part not in self.skip


def select(args: argparse.Namespace) -> Selection:
    sel = Selection(
        skip=frozenset(s.strip() for s in args.skip.split(",") if s.strip()),
        splits=[s for s in args.splits.split(",") if s],
        states=tuple(s for s in args.states.split(",") if s),
        peer_states=tuple(s for s in args.peer_states.split(",") if s),
    )
    for name, given, known in (("--splits", sel.splits, SPLITS), ("--states", sel.states, STATES),
                               ("--peer-states", sel.peer_states, STATES)):  # fmt: skip
        if set(given) - set(known):
            raise SystemExit(f"unknown {name}: {sorted(set(given) - set(known))}; known: {', '.join(known)}")
    unknown = sel.skip - set(PARTS)
    if unknown:
        raise SystemExit(f"unknown --skip parts: {sorted(unknown)}")
    return sel


# --- the run's description: meta, tasks, traces ----------------------------------------------


def start_meta(args: argparse.Namespace, plan: Plan, started: str) -> dict[str, Any]:
    argv_str = "python -m bench " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    return {"started": started, "quick": args.quick, "machine": machine(), "model": str(args.model),
            "threads": args.threads, "ctx": args.ctx, "seed": args.seed, "command": argv_str,
            "plan": asdict(plan), "loadavg_start": os.getloadavg()}  # fmt: skip


def llama_meta(prefix: Path) -> dict[str, Any]:
    v = subprocess.run([str(prefix / "bin" / "llama-server"), "--version"], capture_output=True, text=True)
    return {"llama_build": " ".join((v.stdout + v.stderr).split())[-120:], "llama_prefix": str(prefix)}


@dataclass(frozen=True)
class CpuWatch:
    """The machine's and the bench's own CPU time at the start, to tell what others used."""

    t0: float
    busy0: float | None
    own0: float

    @classmethod
    def start(cls, t0: float) -> CpuWatch:
        return cls(t0, machine_busy_s(), own_cpu_s())

    def end_meta(self) -> dict[str, Any]:
        out: dict[str, Any] = {"wall_s": time.monotonic() - self.t0, "loadavg_end": os.getloadavg()}
        busy1 = machine_busy_s()
        if self.busy0 is not None and busy1 is not None:
            foreign = max(0.0, (busy1 - self.busy0) - (own_cpu_s() - self.own0))
            out["foreign_cpu_share"] = foreign / (out["wall_s"] * (os.cpu_count() or 1))
        return out


def load_tasks(args: argparse.Namespace, plan: Plan, sel: Selection) -> dict[str, list[InfillTask]]:
    if not sel.runs("quality"):
        return {}
    n_tasks = args.tasks if args.tasks is not None else plan.tasks_per_split
    return {
        split: subsample(select_per_problem(load_split(args.data, split), args.seed), n_tasks, args.seed)
        for split in sel.splits
    }


def load_traces(args: argparse.Namespace, plan: Plan, sel: Selection) -> list[Trace]:
    if not sel.runs("typing"):
        return []
    return pick_traces(args.traces or plan.traces, seed=args.seed, min_chars=plan.trace_chars[0],
                       max_chars=plan.trace_chars[1])  # fmt: skip


def measure_floor(
    args: argparse.Namespace, plan: Plan, prefix: Path, log: Log
) -> tuple[floor_mod.FloorModel, dict[str, Any]]:
    log("floor: llama-bench")
    fmodel, rows = floor_mod.measure(prefix / "bin" / "llama-bench", args.model, threads=args.threads,
                                     sizes=plan.floor_sizes, n_gen=plan.floor_gen, reps=plan.floor_reps)  # fmt: skip
    log(f"floor: {fmodel}")
    return fmodel, {"model": fmodel.as_dict(), "llama_bench": rows}


# --- the systems and the floors ----------------------------------------------------------------


def fim_lsp(args: argparse.Namespace, sel: Selection, out_dir: Path) -> FimLsp:
    # No KV states on disk: a run would start warm from the last run's states (its timings would
    # depend on what ran before); the cold part (bench/cold.py) measures the store on its own. No
    # cold-start window either: its size follows the speed measured under the machine's load, so
    # every first request in a file (most quality requests) would get a prompt the load chose;
    # bench/cold.py measures it, with what it costs (--settings '{"coldBudgetMs": 1000}' puts it back).
    settings = {"model": str(args.model), "nThreads": args.threads, "nCtx": args.ctx, "kvStoreFiles": 0,
                "coldBudgetMs": 0, **json.loads(args.settings)}  # fmt: skip
    root = stdlib_dir() if args.typing_workspace else None
    return FimLsp.launch(args.fim_lsp, settings, out_dir, sel.states, root)


def llama_server(args: argparse.Namespace, sel: Selection, prefix: Path, out_dir: Path) -> LlamaServerInfill:
    return LlamaServerInfill.launch(
        prefix, args.model, threads=args.threads, ctx=args.ctx, out_dir=out_dir,
        extra_args=tuple(args.peer_arg), quality_states=sel.peer_states,
        settings=InfillSettings(seed=args.seed % (2**31), greedy=args.peer_greedy),
    )  # fmt: skip


def score_quality(
    by_system: dict[str, list[QualityRecord]], tasks: dict[str, list[InfillTask]], states: tuple[str, ...],
    log: Log,
) -> QualityScores:
    """Add the empty floor, run every program (and the canonical solutions as a check)."""
    all_tasks = {t.task_id: t for ts in tasks.values() for t in ts}
    ts = list(all_tasks.values())
    by_system = {**by_system, "empty": empty_floor(ts, states)}
    solutions = canonical(ts)
    execute_all({**by_system, "canonical": solutions}, log)
    ok = sum(r.status == "passed" for r in solutions)
    return QualityScores(by_system, all_tasks, ok, len(solutions))


# --- main --------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> int:
    """The parts in their order: floor, fim-lsp, the peer, the PSM floors, scoring, outputs."""
    log = Log()
    plan = QUICK if args.quick else FULL
    sel = select(args)
    started = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H-%M-%SZ")
    out_dir = args.out / f"{started}-{'quick' if args.quick else 'full'}"
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = start_meta(args, plan, started)
    cpu = CpuWatch.start(log.t0)
    if not args.model.is_file():
        raise SystemExit(f"model not found: {args.model}")
    meta["model_sha256"] = sha256_file(args.model)
    need_llama = bool({"floor", "peer", "naive"} - sel.skip)
    prefix = llama_prefix(args) if need_llama else Path("/nonexistent")
    if need_llama:
        meta.update(llama_meta(prefix))

    tasks = load_tasks(args, plan, sel)
    traces = load_traces(args, plan, sel)
    log(f"plan: {sum(map(len, tasks.values()))} tasks, {len(traces)} traces -> {out_dir}")
    fmodel, floor = measure_floor(args, plan, prefix, log) if sel.runs("floor") else (None, {})
    n_holes = args.realcode if args.realcode is not None else plan.realcode
    langs = tuple(s for s in args.realcode_langs.split(",") if s)
    holes = realcode.pick_holes(n_holes, seed=args.seed, languages=langs, part=args.realcode_part, log=log) \
        if sel.runs("realcode") else []  # fmt: skip

    work = Workload(traces, tasks, holes, typing=sel.runs("typing"), quality=sel.runs("quality"), look_s=args.look)
    systems: list[SystemResult] = []
    if sel.runs("ours"):
        systems.append(await run_system(fim_lsp(args, sel, out_dir), work, log))
    if sel.runs("peer"):
        peer = llama_server(args, sel, prefix, out_dir)
        systems.append(await run_system(peer, replace(work, holes=[]), log))
    quality = {s.key: s.quality for s in systems}
    naive_code: list[dict] = []
    if sel.runs("naive") and (tasks or holes):
        setup = NaiveSetup(args.model, args.threads, args.ctx, prefix / "lib", out_dir)
        naive_quality, naive_code = run_naive(setup, [t for ts in tasks.values() for t in ts], holes,
                                              sel.states, log)  # fmt: skip
        for r in naive_quality:
            quality.setdefault(r.system, []).append(r)
    scores = score_quality(quality, tasks, sel.states, log) if sel.runs("quality") else None

    rec = record.assemble(meta=meta, end_meta=cpu.end_meta(), floor=floor, systems=systems, fmodel=fmodel,
                          quality=scores, traces=traces, naive_realcode=naive_code, holes=holes)  # fmt: skip
    if sel.runs("cold"):
        rec["cold"] = await cold_part(args, plan, out_dir, log)
    write_outputs(rec, out_dir, log)
    return 0


async def cold_part(args: argparse.Namespace, plan: Plan, out_dir: Path, log: Log) -> dict[str, Any]:
    """The first suggestion in a newly opened file and after a restart (bench/cold.py), with the
    run's model and settings; its own servers, after every other part."""
    settings = {"model": str(args.model), "nThreads": args.threads, "nCtx": args.ctx, **json.loads(args.settings)}
    log("cold: first suggestions in newly opened files and after a restart")
    return await cold.measure(shlex.split(args.fim_lsp), settings, out_dir, files=list(cold.DEFAULT_FILES[: plan.cold_files]),
                              gap_ms=args.cold_gap_ms, reps=1, parts=("open", "restart"), log=log)  # fmt: skip


def write_outputs(rec: dict[str, Any], out_dir: Path, log: Log) -> None:
    """record.json, table.md (also on stdout) and the plot."""
    (out_dir / "record.json").write_text(json.dumps(rec, indent=1, default=str))
    md = report.markdown(rec)
    (out_dir / "table.md").write_text(md)
    plotted = report.plot(rec, out_dir / "latency.png")
    print(md)
    log(
        f"wrote {out_dir}/record.json, table.md"
        + (", latency.png" if plotted else " (no plot: matplotlib missing)")
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return asyncio.run(run(args))
