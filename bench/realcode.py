"""A second quality set, from real code nobody here wrote: holes in standard-library modules.

Each hole hides, inside a function of a module of the Python standard library on the machine
(its file's sha256 is recorded), either one simple statement's line ("line") or the body of a
compound statement (``if``/``for``/``while``/``with``/``try``; at most 8 lines, "block"). The
buffer is the whole module with an empty line where the hole was, in the column-0 or the
auto-indented editor state. Nothing is executed: a suggestion is scored by exact match and
edit similarity against the hidden text, and by whether the module still parses once it is
accepted. Chosen with the seed, so a run is repeatable on the same Python.
"""

from __future__ import annotations

import ast
import hashlib
import random
import time
from dataclasses import dataclass
from pathlib import Path

from bench.replay import Completer, Reply
from bench.scoring import edit_similarity, exact_match
from bench.tasks import EditorView, auto_indent
from bench.traces import stdlib_dir
from lsp_server.documents import line_starts

# Modules not used by the typing traces (bench/traces.py), of various styles.
MODULES = ("argparse.py", "heapq.py", "bisect.py", "statistics.py", "string.py", "glob.py", "posixpath.py",
           "colorsys.py", "csv.py", "queue.py", "tokenize.py", "shutil.py", "configparser.py", "fractions.py",
           "json/decoder.py", "json/encoder.py", "email/utils.py", "urllib/parse.py", "ipaddress.py",
           "dataclasses.py")  # fmt: skip
STATES = ("column0", "auto-indent")
MAX_BLOCK_LINES = 8


@dataclass(frozen=True)
class CodeHole:
    hole_id: str  # module:line:kind
    kind: str  # "line" or "block"
    path: str
    sha256: str
    source: str
    start: int  # offset of the first hidden line
    end: int  # offset just past the last hidden line's line break

    @property
    def hidden(self) -> str:
        return self.source[self.start : self.end]

    def view(self, state: str) -> EditorView:
        before, after = self.source[: self.start], self.source[self.end :]
        indent = auto_indent(before) if state == "auto-indent" else ""
        return EditorView(state, before + indent + "\n" + after, len(before) + len(indent))

    def middle_from_buffer(self, buffer: str) -> str | None:
        before, after = self.source[: self.start], self.source[self.end :]
        if not (buffer.startswith(before) and buffer.endswith(after)) or len(buffer) < len(before) + len(after):
            return None
        return buffer[len(before) : len(buffer) - len(after)]


def _candidates(source: str) -> list[tuple[str, int, int]]:
    """(kind, first line, last line), 1-based and inclusive, of holes inside function bodies."""
    tree = ast.parse(source)
    out: list[tuple[str, int, int]] = []
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(fn):
            if node is fn or not isinstance(node, ast.stmt) or node.end_lineno is None:
                continue
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
                continue  # docstrings
            simple = not isinstance(node, ast.If | ast.For | ast.While | ast.With | ast.Try | ast.FunctionDef
                                    | ast.AsyncFunctionDef | ast.ClassDef | ast.AsyncFor | ast.AsyncWith)  # fmt: skip
            if simple and node.lineno == node.end_lineno:
                out.append(("line", node.lineno, node.lineno))
            elif isinstance(node, ast.If | ast.For | ast.While | ast.With):
                body = node.body
                first, last = body[0].lineno, body[-1].end_lineno or body[-1].lineno
                if first > node.lineno and last - first + 1 <= MAX_BLOCK_LINES:
                    out.append(("block", first, last))
    return out


def pick_holes(n: int, *, seed: int, root: Path | None = None) -> list[CodeHole]:
    """``n`` holes, half lines and half blocks, spread over `MODULES` (seeded)."""
    root = root or stdlib_dir()
    rng = random.Random(f"{seed}/realcode")
    pools: list[tuple[Path, str, list[tuple[str, int, int]]]] = []
    for mod in MODULES:
        path = root / mod
        if not path.is_file():
            continue
        source = path.read_text(encoding="utf-8")
        pools.append((path, source, _candidates(source)))
    holes: list[CodeHole] = []
    seen: set[str] = set()
    tries = 0
    while len(holes) < n and pools and tries < 50 * n:
        tries += 1
        path, source, cands = pools[len(holes) % len(pools)]
        kind = "line" if len(holes) % 2 == 0 else "block"
        options = [c for c in cands if c[0] == kind]
        if not options:
            continue
        _, first, last = rng.choice(options)
        starts = line_starts(source)
        if last >= len(starts):
            continue
        start, end = starts[first - 1], starts[last]
        hid = f"{path.relative_to(root).as_posix()}:{first}:{kind}"
        if hid in seen or not source[start:end].strip():
            continue
        seen.add(hid)
        holes.append(CodeHole(hid, kind, str(path), hashlib.sha256(source.encode()).hexdigest(), source, start, end))
    return holes


def parses(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


async def ask_holes(completer: Completer, holes: list[CodeHole]) -> list[dict]:
    """Each hole in each state: open the module, ask once, accept the first item, score it."""
    out = []
    for hole in holes:
        for state in STATES:
            view = hole.view(state)
            uri = f"file:///bench/realcode/{state}/{hole.hole_id.replace('/', '_').replace(':', '_')}.py"
            completer.open(uri, view.text)
            t0 = time.monotonic()
            try:
                reply = await completer.complete(uri, view.text, view.offset, True)
            except Exception:  # noqa: BLE001 - counted as no suggestion
                reply = Reply(None)
            latency = time.monotonic() - t0
            completer.close(uri)
            buffer = reply.buffer if reply.text and reply.buffer is not None else view.text
            out.append(hole_record(hole, state, buffer, bool(reply.text), latency))
    return out


def hole_record(hole: CodeHole, state: str, buffer: str, offered: bool, latency: float | None) -> dict:
    """One hole's row of record.json, from the buffer once the suggestion is accepted."""
    middle = hole.middle_from_buffer(buffer)
    got = middle if middle is not None else ""
    return {"hole": hole.hole_id, "kind": hole.kind, "state": state, "offered": offered, "latency_s": latency,
            "exact_match": exact_match(got, hole.hidden), "edit_similarity": edit_similarity(got, hole.hidden),
            "parses": parses(buffer), "middle": (middle or "")[:400]}  # fmt: skip


def summary(rows: list[dict]) -> dict:
    """Figures per "kind / state" over one system's rows."""
    out: dict = {}
    for key in dict.fromkeys(f"{r['kind']} / {r['state']}" for r in rows):
        rs = [r for r in rows if f"{r['kind']} / {r['state']}" == key]
        out[key] = {"n": len(rs), "exact_match": sum(r["exact_match"] for r in rs) / len(rs),
                    "edit_similarity": sum(r["edit_similarity"] for r in rs) / len(rs),
                    "parses": sum(r["parses"] for r in rs) / len(rs),
                    "offered": sum(r["offered"] for r in rs)}  # fmt: skip
    return out
