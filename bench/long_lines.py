"""``python -m bench.long_lines``: the first answer at the end of a 200,000-character line and in
the middle of a 5 MB file, beside the first answer in an ordinary file (issue 11, item 6).

One fim-lsp server over stdio (`bench.fimlsp.FimLspServer`), the default model, 2 threads, no
prefetch and no speculation, so nothing runs beside the measured request. One warm-up request
loads the model; then, for each of ``--reps`` rounds, three cases one after the other, each in a
document of its own (a fresh URI: no suggestion cache, no anchor from an earlier request):

- ``ordinary``: a standard-library module read at run time (``textwrap.py``), the cursor at the
  start of the blank line inside a function body nearest the file's middle: the prefix and
  suffix windows are full;
- ``200k-line``: the minified line of ``tests/protocol/test_long_lines.py``, the cursor at its
  end (javascript);
- ``5MB-file``: that test's 5 MB file, the cursor in its middle.

Each case gets ``didOpen``, then a ``fimLsp/stats`` read (whose answer also says the server has
handled the ``didOpen``), then one Invoked ``textDocument/inlineCompletion`` timed from request to
response, then ``fimLsp/stats`` again for that request's prompt tokens and the tokens it reused
from the KV cache, then ``didClose``.

Every first answer is cold: the KV cache keeps only the longest common token prefix with the
previous prompt, and the prompt starts with the prefix window, not the file's first line; the
cases alternate, so each prompt differs from the one before it from its first text token on (the
FIM prefix token aside). The reused tokens column shows it.

A benchmark that prints numbers; nothing here passes or fails on a timing.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import hashlib
import json
import os
import shlex
import sys
import sysconfig
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench.editor import Position, offset_to_position, position_to_offset
from bench.fimlsp import FimLspServer, run_between
from bench.procs import add_server_args, settings_arg
from bench.repo import git_commit
from bench.scoring import percentile

SETTINGS: dict[str, Any] = {"nThreads": 2, "prefetch": False, "speculate": False, "kvStoreFiles": 0}  # cold: no stored state
ORDINARY_MODULE = "textwrap.py"
REQUEST_TIMEOUT_S = 300  # a hang, not a timing
WARM_TEXT = "def add(a, b):\n    return \n"


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    cursor: Position
    language: str
    suffix: str  # of the URI
    source: str  # where the text comes from


def blank_lines_in_bodies(text: str) -> list[int]:
    """The 0-based indices of the empty lines inside function bodies (after their docstrings)."""
    lines = text.splitlines()
    blank: set[int] = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno:
            first = node.body[0].end_lineno or node.lineno  # 1-based: the line after it is index first
            blank.update(i for i in range(first, node.end_lineno) if lines[i] == "")
    return sorted(blank)


def blank_line_in_a_body(text: str) -> int:
    """The 0-based index of the empty line inside a function body (after its docstring) nearest
    the middle of ``text``."""
    blank = blank_lines_in_bodies(text)
    if not blank:
        raise SystemExit("no blank line inside a function body")
    middle = len(text.splitlines()) // 2
    return min(blank, key=lambda i: (abs(i - middle), i))


def ordinary_case() -> Case:
    path = Path(sysconfig.get_paths()["stdlib"]) / ORDINARY_MODULE
    data = path.read_bytes()
    text = data.decode("utf-8")
    line = blank_line_in_a_body(text)
    return Case("ordinary", text, Position(line, 0), "python", ".py",
                f"{path} ({len(text.splitlines())} lines, sha256 {hashlib.sha256(data).hexdigest()[:16]})")  # fmt: skip


def long_line_case() -> Case:
    line = "var a=1;" + " ".join(f"f{i}(x);" for i in range(24_000))  # as tests/protocol/test_long_lines.py
    return Case("200k-line", line + "\n", Position(0, len(line)), "javascript", ".js",
                f"one line of {len(line):,} characters, the cursor at its end")  # fmt: skip


def big_file_case() -> Case:
    text = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(170_000))
    lines = text.count("\n")
    return Case("5MB-file", text, Position(lines // 2 + 1, 4), "python", ".py",
                f"{len(text):,} characters, {lines:,} lines, the cursor before line {lines // 2 + 2}'s `return`")  # fmt: skip


async def first_answer(server: FimLspServer, case: Case, uri: str) -> dict[str, Any]:
    """Open ``case`` at ``uri``, ask once (Invoked), close; the timing and the server's figures."""
    t_open = time.monotonic()
    server.open(uri, case.text, case.language)
    before = await server.stats()  # answered after the didOpen above is handled
    open_s = time.monotonic() - t_open
    t0 = time.monotonic()
    try:
        items = await asyncio.wait_for(server.complete(uri, case.cursor, automatic=False), REQUEST_TIMEOUT_S)
        error = None
    except Exception as exc:  # noqa: BLE001 - reported, not raised: the other cases still run
        items, error = [], repr(exc)[:300]
    seconds = time.monotonic() - t0
    last = run_between(before, await server.stats())
    server.close(uri)
    return {"case": case.name, "uri": uri, "seconds": seconds, "open_s": open_s, "error": error,
            "suggestion": items[0].text if items else None,
            "nPrompt": last.get("nPrompt"), "nReused": last.get("nReused"), "nGenerated": last.get("nGenerated"),
            "tPromptS": last.get("tPromptS"), "tGenS": last.get("tGenS"), "stopReason": last.get("stopReason"),
            "totalS": last.get("totalS"), "source": last.get("source")}  # fmt: skip


def _median(values: list[Any]) -> float | None:
    return percentile([float(v) for v in values if v is not None], 50)


def summarize(rows: list[dict[str, Any]], names: list[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        mine = [r for r in rows if r["case"] == name]
        out[name] = {
            "seconds": [r["seconds"] for r in mine],
            **{f"median_{k}": _median([r[k] for r in mine])
               for k in ("seconds", "nPrompt", "nReused", "nGenerated", "tPromptS", "tGenS", "open_s")},
        }  # fmt: skip
    base = out[names[0]]["median_seconds"] if names else None
    for s in out.values():
        s["ratio"] = s["median_seconds"] / base if base and s["median_seconds"] is not None else None
    return out


def _num(v: Any, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def table(summary: dict[str, dict[str, Any]]) -> str:
    head = ("| case | prompt tokens | reused tokens | first answer s (median) | each rep s | ratio to ordinary "
            "| generated tokens | prompt eval s | generation s |")  # fmt: skip
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for name, s in summary.items():
        reps = ", ".join(f"{x:.2f}" for x in s["seconds"])
        lines.append(f"| {name} | {_num(s['median_nPrompt'], '.0f')} | {_num(s['median_nReused'], '.0f')} "
                     f"| {_num(s['median_seconds'], '.2f')} | {reps} | {_num(s['ratio'], '.2f')} "
                     f"| {_num(s['median_nGenerated'], '.0f')} | {_num(s['median_tPromptS'], '.2f')} "
                     f"| {_num(s['median_tGenS'], '.2f')} |")  # fmt: skip
    return "\n".join(lines)


_T0 = time.monotonic()


def log(msg: str) -> None:
    print(f"[long-lines {time.monotonic() - _T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


async def run(command: list[str], settings: dict[str, Any], reps: int, log_path: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:  # fmt: skip
    cases = [ordinary_case(), long_line_case(), big_file_case()]
    for c in cases:
        log(f"{c.name}: {c.source}")
    server = FimLspServer([*command, "--log-file", str(log_path)], settings, log_path.with_suffix(".stderr"))
    tag = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    rows: list[dict[str, Any]] = []
    ready = await server.start()
    try:
        warm = Case("warm-up", WARM_TEXT, offset_to_position(WARM_TEXT, len(WARM_TEXT) - 1), "python", ".py", "")
        w = await first_answer(server, warm, f"file:///fim-long-lines/{tag}/warm-up.py")
        log(f"initialized in {ready:.1f}s; warm-up (model load) {w['seconds']:.1f}s")
        for rep in range(1, reps + 1):
            for case in cases:
                uri = f"file:///fim-long-lines/{tag}/rep{rep}-{case.name}{case.suffix}"
                row = await first_answer(server, case, uri)
                rows.append({"rep": rep, **row})
                log(f"rep {rep} {case.name}: {row['seconds']:.2f}s, prompt {row['nPrompt']} tokens, "
                    f"reused {row['nReused']}" + (f", error {row['error']}" if row["error"] else ""))  # fmt: skip
        stats = await server.stats() or {}
    finally:
        await server.stop()
    meta = {"warm_up": w, "ready_s": ready, "cases": {c.name: {"source": c.source, "language": c.language,
            "cursor": [c.cursor.line, c.cursor.character], "chars": len(c.text),
            "cursor_offset": position_to_offset(c.text, c.cursor)} for c in cases},
            "server_stats_end": stats}  # fmt: skip
    return rows, meta


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.long_lines", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--reps", type=int, default=3, help="rounds of the three cases (default: %(default)s)")
    ap.add_argument("--out", type=Path, default=None,
                    help="JSON record (default: /tmp/fim-long-lines-<UTC time>.json)")  # fmt: skip
    add_server_args(ap, SETTINGS)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    extra = settings_arg(args.settings)
    if args.reps < 1:
        raise SystemExit("--reps must be at least 1")
    settings = {**SETTINGS, **extra}
    started = datetime.now(timezone.utc)
    out = args.out or Path(f"/tmp/fim-long-lines-{started.strftime('%Y%m%dT%H%M%SZ')}.json")
    meta: dict[str, Any] = {
        "command": "python -m bench.long_lines " + " ".join(sys.argv[1:] if argv is None else argv),
        "started": started.isoformat(timespec="seconds"), **git_commit(), "loadavg_start": os.getloadavg(),
        "cpus": os.cpu_count(), "python": sys.version.split()[0], "settings": settings, "reps": args.reps,
    }  # fmt: skip
    t0 = time.monotonic()
    rows, more = asyncio.run(run(shlex.split(args.fim_lsp), settings, args.reps, out.with_suffix(".log")))
    meta.update(more, wall_s=time.monotonic() - t0, loadavg_end=os.getloadavg())
    summary = summarize(rows, ["ordinary", "200k-line", "5MB-file"])
    text = table(summary)
    out.write_text(json.dumps({"meta": meta, "summary": summary, "table": text, "rows": rows}, indent=1) + "\n")
    print(text)
    print(f"load average {' '.join(f'{x:.2f}' for x in meta['loadavg_start'])} at start, "
          f"{' '.join(f'{x:.2f}' for x in meta['loadavg_end'])} at end; record {out}")  # fmt: skip
    return 1 if any(r["error"] for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
