"""Editing traces: a real function body deleted and retyped at a human pace.

Typing model (seeded): a per-trace speed drawn from 8-12 characters a second, log-normal jitter
per key, a pause before each line break, and a few longer "thinking" pauses at line starts. The
editor auto-indents: Enter inserts the line break and the next line's indentation in one change.
"""

from __future__ import annotations

import ast
import hashlib
import math
import random
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

# Modules of the standard library on every CPython we support; real code nobody here wrote.
DEFAULT_MODULES = ("textwrap.py", "shlex.py", "calendar.py", "fnmatch.py", "difflib.py")


@dataclass(frozen=True)
class Keystroke:
    t: float  # seconds since the trace began
    text: str  # inserted at the cursor, which then moves past it


@dataclass(frozen=True)
class FunctionSpan:
    name: str
    body_start: int  # offset of the first retyped line (after the signature and docstring)
    body_end: int  # offset just past the last body line's text (before its line break)


@dataclass
class Trace:
    name: str
    source_path: str
    source_sha256: str
    initial_text: str  # what the user sees before typing: the body is gone
    cursor: int  # offset of the cursor in initial_text
    body: str  # the text typed, starting after the first line's indentation
    keystrokes: list[Keystroke]
    end_t: float  # the user stops typing at the last keystroke and looks until end_t
    meta: dict = field(default_factory=dict)

    @property
    def target_text(self) -> str:
        return self.initial_text[: self.cursor] + self.body + self.initial_text[self.cursor :]

    def gaps(self) -> list[float]:
        """Time from each keystroke to the next (the last one: to ``end_t``)."""
        ts = [k.t for k in self.keystrokes] + [self.end_t]
        return [b - a for a, b in zip(ts, ts[1:], strict=False)]


def _line_offsets(source: str) -> list[int]:
    offs = [0]
    for i, ch in enumerate(source):
        if ch == "\n":
            offs.append(i + 1)
    return offs


def find_functions(source: str) -> list[FunctionSpan]:
    """Functions and methods whose body (after any docstring) can be cut out as whole lines."""
    tree = ast.parse(source)
    offs = _line_offsets(source)
    spans = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        body = node.body
        if (
            body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            body = body[1:]
        if not body or body[0].lineno <= node.lineno:
            continue  # one-liners like ``def f(): return 1``
        first, last = body[0].lineno, node.end_lineno or body[-1].lineno
        if last >= len(offs):
            continue
        start = offs[first - 1]
        end = offs[last] - 1  # the line break ending the body's last line
        if source[end] != "\n":
            continue
        spans.append(FunctionSpan(node.name, start, end))
    spans.sort(key=lambda s: s.body_start)
    return spans


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def type_body(body_lines: list[str], rng: random.Random) -> tuple[str, list[Keystroke]]:
    """Keystrokes retyping ``body_lines``; the first line's indentation is already there."""
    cps = rng.uniform(8.0, 12.0)
    mean = 1.0 / cps
    sigma = 0.35
    mu = math.log(mean) - sigma * sigma / 2
    n_think = min(3, max(1, len(body_lines) // 6))
    think_lines = (
        set(rng.sample(range(1, len(body_lines)), n_think)) if len(body_lines) > 1 else set()
    )
    keys: list[Keystroke] = []
    t = 0.0
    typed = []
    for i, line in enumerate(body_lines):
        content = line[len(_indent(line)) :]
        if i in think_lines:
            t += rng.uniform(1.5, 4.0)
        for ch in content:
            t += min(0.6, max(0.03, rng.lognormvariate(mu, sigma)))
            keys.append(Keystroke(round(t, 4), ch))
            typed.append(ch)
        if i + 1 < len(body_lines):
            t += rng.uniform(0.3, 0.9)  # end of line: a look before Enter
            enter = "\n" + _indent(body_lines[i + 1])
            keys.append(Keystroke(round(t, 4), enter))
            typed.append(enter)
    return "".join(typed), keys


def make_trace(source: str, span: FunctionSpan, *, seed: int, name: str, path: str = "") -> Trace:
    rng = random.Random(f"{seed}/{name}")
    body_text = source[span.body_start : span.body_end]
    lines = body_text.split("\n")
    first_indent = _indent(lines[0])
    typed, keys = type_body(lines, rng)
    cursor = span.body_start + len(first_indent)
    initial = source[:cursor] + source[span.body_end :]
    assert initial[:cursor] + typed + initial[cursor:] == source
    return Trace(
        name=name,
        source_path=path,
        source_sha256=hashlib.sha256(source.encode()).hexdigest(),
        initial_text=initial,
        cursor=cursor,
        body=typed,
        keystrokes=keys,
        end_t=round(keys[-1].t + 2.0, 4) if keys else 2.0,
        meta={"function": span.name, "body_chars": len(typed), "body_lines": len(lines)},
    )


def stdlib_dir() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def pick_traces(
    n: int,
    *,
    seed: int,
    min_chars: int,
    max_chars: int,
    modules: tuple[str, ...] = DEFAULT_MODULES,
    root: Path | None = None,
) -> list[Trace]:
    """``n`` traces, one function from each of the first ``n`` modules that have one in range."""
    root = root or stdlib_dir()
    traces: list[Trace] = []
    for mod in modules:
        if len(traces) == n:
            break
        path = root / mod
        if not path.is_file():
            continue
        source = path.read_text(encoding="utf-8")
        spans = [
            s
            for s in find_functions(source)
            if min_chars <= s.body_end - s.body_start <= max_chars
            and source[s.body_start : s.body_end].count("\n") >= 2
        ]
        if not spans:
            continue
        span = random.Random(f"{seed}/{mod}").choice(spans)
        traces.append(
            make_trace(source, span, seed=seed, name=f"{mod}:{span.name}", path=str(path))
        )
    return traces
