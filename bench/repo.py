"""``python -m bench.repo``: the repository-level set (issue 14) through the real server.

The tasks (`bench/repotasks.py`) hide one line that uses a name from another module of the same
package. The selected packages are copied into a temporary workspace (``<tmp>/ws/<pkg>/…``,
the server's root folder), and each system, one server process each, is asked the same tasks in
the same order: the target file opened, one Invoked inline completion at the cursor, closed.
Only the suggestion's first line is compared with the hidden line.

Systems: ``file-only`` (no context beyond the file's prefix and suffix windows), ``imports`` (the
file's own import lines before its prefix window, importContextTokens 128), ``repo-context`` (the
server looks up the definitions on disk itself), ``open-extra`` (the defining modules opened
first, extraContext on).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench import repotasks
from bench.fimlsp import FimLspServer, run_between
from bench.procs import settings_arg
from bench.replay import Reply
from bench.repotasks import RepoTask
from bench.scoring import edit_similarity, exact_match, percentile
from bench.systems import OursCompleter
from bench.tasks import default_data_dir

REPO = Path(__file__).resolve().parents[1]
HUMANEVAL_SEED = 20261127  # bench.cli's default: the selection its quality part asks
MAX_COPY_BYTES = 1_000_000
REQUEST_TIMEOUT_S = 300


@dataclass(frozen=True)
class System:
    name: str
    settings: dict[str, Any]
    open_defining: bool  # didOpen the defining modules before the target (and close them after)


SYSTEMS = {s.name: s for s in (
    System("file-only", {"repoContext": False, "extraContext": False, "importContextTokens": 0}, False),
    System("imports", {"repoContext": False, "extraContext": False, "importContextTokens": 128}, False),
    System("repo-context", {"repoContext": True, "importContextTokens": 0}, False),
    System("open-extra", {"extraContext": True, "repoContext": False, "importContextTokens": 0}, True),
)}  # fmt: skip


# --- scores (pure) ------------------------------------------------------------------------------


def identifier_recall(names: tuple[str, ...] | list[str], line: str) -> float:
    """The share of ``names`` that ``line`` contains as whole identifiers: ``Frame`` counts in
    ``Frame(x)`` but not in ``Framework`` or ``self.Frame``; ``m.attr`` counts as ``attr`` right
    after ``m.``."""
    if not names:
        return 0.0
    return sum(repotasks.name_pattern(name).search(line) is not None for name in names) / len(names)


def suggestion_first_line(view_text: str, offset: int, reply: Reply) -> str:
    """The text on the cursor's line once the suggestion is accepted, from its first non-blank
    character (so a suggestion that replaces the indentation is read where it lands); "" for
    none, or for one that starts on the next line."""
    if not reply.text:
        return ""
    start = view_text.rfind("\n", 0, offset) + 1
    before, after = view_text[:start], view_text[offset + 1 :]
    buf = reply.buffer
    if (
        buf is not None
        and buf.startswith(before)
        and buf.endswith(after)
        and len(buf) >= len(before) + len(after)
    ):
        return buf[len(before) : len(buf) - len(after)].split("\n", 1)[0].strip()
    return reply.text.split("\n", 1)[0].strip()


def score(
    task: RepoTask, system: str, first: str, offered: bool, latency_s: float | None
) -> dict[str, Any]:
    """One task's row of record.json."""
    return {"task": task.task_id, "system": system, "first_line": first, "offered": offered,
            "exact_match": exact_match(first, task.hidden), "edit_similarity": edit_similarity(first, task.hidden),
            "identifier_recall": identifier_recall(task.names, first), "latency_s": latency_s}  # fmt: skip


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One system's figures over its rows."""
    n = len(rows)
    lat = [r["latency_s"] for r in rows if r["latency_s"] is not None]
    if not n:
        return {"n": 0}
    return {"n": n, "exact_match": sum(r["exact_match"] for r in rows) / n,
            "edit_similarity": sum(r["edit_similarity"] for r in rows) / n,
            "identifier_recall": sum(r["identifier_recall"] for r in rows) / n,
            "offered": sum(r["offered"] for r in rows),
            "latency_mean_s": sum(lat) / len(lat) if lat else None,
            "latency_p50_s": percentile(lat, 50)}  # fmt: skip


def table(summaries: dict[str, dict[str, Any]]) -> str:
    head = ("| system | n | exact match | edit similarity | identifier recall | offered | s / request (mean) | p50 |\n"
            "|---|---|---|---|---|---|---|---|")  # fmt: skip
    lines = [head]
    for name, s in summaries.items():
        if not s.get("n"):
            lines.append(f"| {name} | 0 | – | – | – | – | – | – |")
            continue
        mean = "–" if s["latency_mean_s"] is None else f"{s['latency_mean_s']:.2f}"
        p50 = "–" if s["latency_p50_s"] is None else f"{s['latency_p50_s']:.2f}"
        lines.append(f"| {name} | {s['n']} | {100 * s['exact_match']:.1f}% | {s['edit_similarity']:.3f} | "
                     f"{100 * s['identifier_recall']:.1f}% | {s['offered']}/{s['n']} | {mean} | {p50} |")  # fmt: skip
    return "\n".join(lines)


# --- the workspace ------------------------------------------------------------------------------


def build_workspace(site: Path, packages: list[str], ws: Path) -> None:
    """Each package's ``*.py`` files (none over 1 MB) under ``ws/<pkg>/``."""
    for package in packages:
        src = site / package
        for path in sorted(src.rglob("*.py")):
            if path.stat().st_size > MAX_COPY_BYTES:
                continue
            dest = ws / path.relative_to(site)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)


def load_sources(tasks: list[RepoTask], ws: Path) -> dict[str, str]:
    """Target and defining files' text from the workspace; a target whose sha256 changed is an error."""
    out: dict[str, str] = {}
    for task in tasks:
        data = (ws / task.path).read_bytes()
        if hashlib.sha256(data).hexdigest() != task.sha256:
            raise SystemExit(f"{task.path}: sha256 differs from the selection's after copying")
        out[task.path] = data.decode("utf-8")
        for d in task.defining:
            if d not in out and (ws / d).is_file():
                out[d] = (ws / d).read_bytes().decode("utf-8", errors="replace")
    return out


# --- the run ------------------------------------------------------------------------------------


class Log:
    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def __call__(self, msg: str) -> None:
        print(f"[repo {time.monotonic() - self.t0:7.1f}s] {msg}", file=sys.stderr, flush=True)


async def ask(
    server: FimLspServer, completer: OursCompleter, uri: str, text: str, offset: int
) -> tuple[Reply, float, dict]:
    """One Invoked request; the reply, its seconds, and what the server says of its model run."""
    before = await server.stats()
    t0 = time.monotonic()
    try:
        reply = await asyncio.wait_for(
            completer.complete(uri, text, offset, False), REQUEST_TIMEOUT_S
        )
    except Exception as exc:  # noqa: BLE001 - counted as no suggestion
        reply = Reply(None, {"error": repr(exc)[:300]})
    latency = time.monotonic() - t0
    info = dict(reply.info)
    if last := run_between(before, await server.stats()):
        info.update({k: last.get(k) for k in ("nPrompt", "nReused", "nGenerated", "stopReason")})
    return reply, latency, info


async def run_system(system: System, tasks: list[RepoTask], sources: dict[str, str], ws: Path, command: list[str],
                     extra: dict[str, Any], out_dir: Path, log: Log,
                     state: str = "auto-indent") -> list[dict[str, Any]]:  # fmt: skip
    # No cold-start window: every hole is a first request in its file, and the window the load
    # would size leaves out the very context the systems compare (bench/cold.py measures it).
    settings = {"coldBudgetMs": 0, **system.settings, **extra}
    server = FimLspServer([*command, "--log-file", str(out_dir / f"fim-lsp-{system.name}.log")], settings,
                          out_dir / f"fim-lsp-{system.name}.stderr", root=ws)  # fmt: skip
    completer = OursCompleter(server, track_last=False)
    rows: list[dict[str, Any]] = []
    ready = await server.start()
    try:
        # The model loads here, not in the first task's time.
        warm_uri = (ws / "fim_repo_warmup.py").as_uri()
        warm_text = "def add(a, b):\n    return \n"
        completer.open(warm_uri, warm_text)
        _, warm_s, _ = await ask(
            server, completer, warm_uri, warm_text, len("def add(a, b):\n    return ")
        )
        completer.close(warm_uri)
        log(
            f"{system.name}: initialized in {ready:.1f}s, first completion (model load) {warm_s:.1f}s"
        )
        matched = 0
        for i, task in enumerate(tasks, 1):
            text, offset = task.view(sources[task.path], state)
            opened = []
            if system.open_defining:
                for d in task.defining:
                    if d != task.path and d in sources:
                        opened.append((ws / d).as_uri())
                        completer.open(opened[-1], sources[d])
            uri = (ws / task.path).as_uri()
            completer.open(uri, text)
            reply, latency, info = await ask(server, completer, uri, text, offset)
            completer.close(uri)
            for other in opened:
                completer.close(other)
            row = score(
                task,
                system.name,
                suggestion_first_line(text, offset, reply),
                bool(reply.text),
                latency,
            )
            row["server"] = info
            rows.append(row)
            matched += row["exact_match"]
            log(
                f"{system.name} {i}/{len(tasks)} {task.task_id}: {latency:.2f}s, EM {matched}/{i} ({100 * matched / i:.1f}%)"
            )
    finally:
        await server.stop()
    return rows


def git_commit() -> dict[str, Any]:
    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
        return out.stdout.strip() if out.returncode == 0 else ""

    return {"commit": git("rev-parse", "HEAD") or None, "dirty": bool(git("status", "--porcelain"))}


def package_versions(packages: list[str]) -> dict[str, str | None]:
    dists = importlib.metadata.packages_distributions()
    out: dict[str, str | None] = {}
    for package in packages:
        names = dists.get(package) or []
        try:
            out[package] = f"{names[0]} {importlib.metadata.version(names[0])}" if names else None
        except importlib.metadata.PackageNotFoundError:
            out[package] = None
    return out


def list_tasks(sel: repotasks.Selection) -> str:
    lines = [f"{t.task_id}  [{', '.join(t.names)}]  {t.hidden}" for t in sel.tasks]
    per = Counter(t.package for t in sel.tasks)
    lines.append(f"\n{len(sel.tasks)} tasks from {len(per)} packages: "
                 + ", ".join(f"{p} {k}" for p, k in sorted(per.items())))  # fmt: skip
    lines += [f"note: {n}" for n in sel.notes]
    return "\n".join(lines)


def humaneval_context(data: Path, seed: int) -> str:
    """How many HumanEval-infilling buffers (every split and editor state of the selection the
    quality part asks) get any repository context: each is written into a workspace folder of its
    own, as a user's file would be, and the server's index is asked what it imports from there.
    Also how many prompts gain import lines (the ``imports`` system's importContextTokens, the
    default windows), counted with the default preset's tokenizer (loaded vocabulary-only)."""
    import llama_cpp

    from bench.tasks import SPLITS, load_split, select_per_problem, states_for
    from lsp_server.config import PromptSettings, Settings
    from lsp_server.models import resolve
    from lsp_server.pipeline import prepare
    from lsp_server.workspace import WorkspaceIndex

    llm = llama_cpp.Llama(str(resolve(Settings().engine.model)), vocab_only=True, verbose=False)

    def count(text: str) -> int:
        return len(llm.tokenize(text.encode(), add_bos=False, special=False))

    plain = PromptSettings()
    headed = replace(plain, import_context_tokens=SYSTEMS["imports"].settings["importContextTokens"])
    asked = with_context = with_imports = 0
    with tempfile.TemporaryDirectory(prefix="fim-repo-he-") as tmp:
        ws = Path(tmp)
        index = WorkspaceIndex([ws])
        for split in SPLITS:
            for task in select_per_problem(load_split(data, split), seed):
                for state in states_for(split):
                    view = task.view(state)
                    path = ws / "solution.py"
                    path.write_text(view.text, encoding="utf-8")
                    asked += 1
                    with_context += bool(index.definitions(view.text, str(path), 1.0))
                    before, _ = prepare(view.text, view.offset, plain, count, language="python")
                    after, _ = prepare(view.text, view.offset, headed, count, language="python")
                    with_imports += after.prompt != before.prompt
        index.close()
    return (f"HumanEval-infilling: {with_context} of {asked} buffers get repository context; "
            f"{with_imports} prompts gain import lines")  # fmt: skip


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.repo", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument(
        "--n", type=int, default=repotasks.DEFAULT_N, help="tasks (default: %(default)s)"
    )
    ap.add_argument("--seed", type=int, default=repotasks.DEFAULT_SEED)
    ap.add_argument("--state", default="auto-indent", choices=repotasks.STATES,
                    help="editor state: the cursor after the indentation (default), at column 0, typed up to "
                         "the first cross-file name, or two characters into it")  # fmt: skip
    ap.add_argument(
        "--systems", default=",".join(SYSTEMS), help="comma list of: " + ", ".join(SYSTEMS)
    )
    ap.add_argument("--settings", default="{}",
                    help='JSON merged into every system\'s initializationOptions, e.g. {"model": "qwen2.5-coder-1.5b-offline"}')  # fmt: skip
    ap.add_argument(
        "--out", type=Path, default=None, help="run directory (default: /tmp/fim-repo-<time>)"
    )
    ap.add_argument(
        "--list", action="store_true", help="print the selected tasks and stop (no model)"
    )
    ap.add_argument("--site-packages", type=Path, default=None,
                    help="where the packages are (default: the project's .venv)")  # fmt: skip
    ap.add_argument("--fim-lsp", default=str(Path(sys.executable).parent / "fim-lsp"),
                    help="command that starts fim-lsp on stdio")  # fmt: skip
    ap.add_argument("--humaneval-context", type=Path, nargs="?", const=default_data_dir(REPO), default=None,
                    metavar="DATA", help="count the HumanEval-infilling buffers that would get repository "
                                         "context (their prompts are otherwise unchanged) and stop; no model")  # fmt: skip
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    if unknown := [s for s in systems if s not in SYSTEMS]:
        raise SystemExit(f"unknown --systems {unknown}; known: {', '.join(SYSTEMS)}")
    extra = settings_arg(args.settings)
    site = args.site_packages or repotasks.site_packages(REPO)
    if site is None:
        raise SystemExit("no .venv/lib/python3*/site-packages here; pass --site-packages")
    if args.humaneval_context is not None:
        print(humaneval_context(args.humaneval_context, HUMANEVAL_SEED))
        return 0
    sel = repotasks.select(site, args.n, seed=args.seed)
    if args.list:
        print(list_tasks(sel))
        return 0
    if not sel.tasks:
        raise SystemExit("no tasks: " + "; ".join(sel.notes))
    started = datetime.now(timezone.utc)
    out_dir = args.out or Path(f"/tmp/fim-repo-{started.strftime('%Y%m%dT%H%M%SZ')}")
    out_dir.mkdir(parents=True, exist_ok=True)
    log = Log()
    for note in sel.notes:
        log(f"note: {note}")
    packages = sorted({t.package for t in sel.tasks})
    meta: dict[str, Any] = {
        "command": "python -m bench.repo " + " ".join(sys.argv[1:] if argv is None else argv),
        "started": started.isoformat(timespec="seconds"), **git_commit(), "loadavg_start": os.getloadavg(),
        "n": args.n, "seed": args.seed, "state": args.state, "site_packages": str(site),
        "systems": {s: {"settings": {**SYSTEMS[s].settings, **extra}, "open_defining": SYSTEMS[s].open_defining}
                    for s in systems},
    }  # fmt: skip
    rows: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="fim-repo-") as tmp:
        ws = Path(tmp) / "ws"
        build_workspace(site, packages, ws)
        sources = load_sources(sel.tasks, ws)
        files = {p: hashlib.sha256((ws / p).read_bytes()).hexdigest() for p in sorted(sources)}
        log(f"{len(sel.tasks)} tasks from {len(packages)} packages; workspace {ws}")
        for name in systems:
            rows[name] = asyncio.run(run_system(SYSTEMS[name], sel.tasks, sources, ws, [args.fim_lsp], extra,
                                                out_dir, log, args.state))  # fmt: skip
    meta.update(wall_s=time.monotonic() - log.t0, loadavg_end=os.getloadavg())
    summaries = {name: summary(rs) for name, rs in rows.items()}
    record = {"meta": meta, "packages": package_versions(packages), "notes": sel.notes, "files": files,
              "tasks": [t.as_dict() for t in sel.tasks], "summary": summaries, "rows": rows}  # fmt: skip
    (out_dir / "record.json").write_text(json.dumps(record, indent=1) + "\n")
    text = table(summaries)
    (out_dir / "table.md").write_text(text + "\n")
    print(text)
    log(f"wrote {out_dir}/record.json and table.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
