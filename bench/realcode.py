"""The real-code set: holes in source files of real projects nobody here wrote, in several
languages (`bench.realsources` finds the files; each file's sha256 is recorded).

Each hole is asked in the editor state its kind names, the whole file open through the protocol
with its own languageId:
- ``line``: one line inside a function (a statement, a parameter line of a signature, a line of
  a docstring, a continued expression...) hidden from its first non-blank character: the cursor
  after the indentation an editor's auto-indent put there, nothing right of it;
- ``block``: the body of an ``if``/``for``/``while`` (``with`` in Python; 1-8 lines) hidden from
  the first non-blank character of its first line;
- ``mid-line``: the rest of such a line from a point where a user pauses (after a word or an
  opening bracket), the cursor there.
Nothing runs: a suggestion is scored by exact match and edit similarity of its first line and of
the whole hidden text, by whether the file still parses once it is accepted (Python's ``ast``,
tree-sitter elsewhere; a file that had a parse error keeps passing when the error stays where it
was), and by whether anything was offered at all. Files are split into two disjoint halves by a
hash of their name (``dev`` and ``held``) so that rules can be developed on one half and the other
scored once; the holes in a half are drawn with the seed.
"""

from __future__ import annotations

import ast
import hashlib
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from bench.quality import Ask, Progress, ask_each
from bench.realsources import EXTENSIONS, LANGUAGES, Missing, SourceFile, files_for
from bench.replay import Completer
from bench.scoring import edit_similarity, exact_match
from bench.tasks import EditorView
from lsp_server.documents import line_starts
from lsp_server.postprocess.gate import CannotJudge, ParseError, parser_for
from lsp_server.postprocess.treesitter import parse_tree

KINDS = ("line", "line", "block", "mid-line")  # drawn in turn: half the holes are whole lines
MAX_BLOCK_LINES = 8
PARTS = ("dev", "held", "all")
DEFAULT_LANGUAGES = ("python", "javascript", "typescript", "java", "c", "cpp", "go", "rust")

# tree-sitter node types: what is a function, and which statements' braced bodies are blocks.
_FUNCTIONS = {"function_declaration", "function_expression", "arrow_function", "method_definition",
              "generator_function_declaration", "function", "method_declaration", "constructor_declaration",
              "function_definition", "function_item", "func_literal", "lambda_expression"}  # fmt: skip
_BLOCK_OWNERS = {"if_statement", "for_statement", "for_in_statement", "while_statement", "enhanced_for_statement",
                 "for_range_loop", "else_clause", "if_expression", "for_expression", "while_expression"}  # fmt: skip
_BODIES = {"statement_block", "block", "compound_statement"}
_COMMENT = re.compile(r"\s*(#|//|/\*|\*|\*/)")
_PAUSE = re.compile(r"(?<=\w)(?=[^\w])|(?<=[(\[{=,.:])(?=\S)")


@dataclass(frozen=True)
class CodeHole:
    hole_id: str  # language:project/file:line:kind
    kind: str  # line | block | mid-line
    language: str
    path: str
    sha256: str
    source: str
    start: int  # the cursor: where the hidden text starts
    end: int  # where it ends (the last hidden line's line break stays)

    @property
    def hidden(self) -> str:
        return self.source[self.start : self.end]

    @property
    def scored_from(self) -> int:
        """Where the scored text starts: the line start for whole lines (a suggestion may
        rewrite the indentation before the cursor), the cursor mid-line."""
        return self.start if self.kind == "mid-line" else self.source.rfind("\n", 0, self.start) + 1

    @property
    def expected(self) -> str:
        return self.source[self.scored_from : self.end]

    def view(self) -> EditorView:
        return EditorView(self.kind, self.source[: self.start] + self.source[self.end :], self.start)

    def uri(self) -> str:
        name = re.sub(r"[^\w.-]+", "_", self.hole_id)
        return f"file:///bench/realcode/{self.language}/{name}{EXTENSIONS[self.language]}"

    def middle_from_buffer(self, buffer: str) -> str | None:
        """The scored region of a buffer after accepting; None when the edit reached outside it."""
        before, after = self.source[: self.scored_from], self.source[self.end :]
        if not (buffer.startswith(before) and buffer.endswith(after)) or len(buffer) < len(before) + len(after):
            return None
        return buffer[len(before) : len(buffer) - len(after)]


# --- candidates ---------------------------------------------------------------------------------


def _wanted_line(line: str) -> bool:
    core = line.strip()
    return any(c.isalnum() for c in core) and not _COMMENT.match(line) and len(core) >= 3


def _python_candidates(source: str) -> tuple[set[int], set[tuple[int, int]]]:
    """(lines, blocks) as 0-based rows: lines inside function definitions (after the ``def``
    line), and bodies of ``if``/``for``/``while``/``with`` inside them."""
    lines: set[int] = set()
    blocks: set[tuple[int, int]] = set()
    for fn in ast.walk(ast.parse(source)):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef) or fn.end_lineno is None:
            continue
        lines.update(range(fn.lineno, fn.end_lineno))  # rows lineno .. end_lineno-1 are lines 2..
        for node in ast.walk(fn):
            if isinstance(node, ast.If | ast.For | ast.While | ast.With) and node.body:
                first, last = node.body[0].lineno, node.body[-1].end_lineno or node.body[-1].lineno
                if first > node.lineno and last - first + 1 <= MAX_BLOCK_LINES:
                    blocks.add((first - 1, last - 1))
    return lines, blocks


def _tree_candidates(source: str, language: str) -> tuple[set[int], set[tuple[int, int]]]:
    """The same from a tree-sitter tree: lines strictly inside a function's braces, and the
    lines between the braces of a block owned by an ``if``/``for``/``while``/``else``."""
    tree = parse_tree(language, source)
    if tree is None:
        return set(), set()
    rows = source.split("\n")
    lines: set[int] = set()
    blocks: set[tuple[int, int]] = set()
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        r0, r1 = node.start_point[0], node.end_point[0]
        if node.type in _FUNCTIONS and r1 - r0 >= 2:
            lines.update(range(r0 + 1, r1))
        if node.type in _BODIES and node.parent is not None and node.parent.type in _BLOCK_OWNERS:
            if 2 <= r1 - r0 <= MAX_BLOCK_LINES + 1 and rows[r0].rstrip().endswith("{") \
                    and rows[r1].strip().startswith("}"):  # fmt: skip
                blocks.add((r0 + 1, r1 - 1))
    return lines, blocks


@cache
def _candidates(source: str, language: str) -> tuple[tuple[int, ...], tuple[tuple[int, int], ...]]:
    try:
        lines, blocks = _python_candidates(source) if language == "python" else _tree_candidates(source, language)
    except (SyntaxError, ValueError, RecursionError):
        return (), ()
    rows = source.split("\n")
    keep = tuple(sorted(r for r in lines if r < len(rows) and _wanted_line(rows[r])))
    full = tuple(sorted((a, b) for a, b in blocks if _wanted_line(rows[a]) and any(rows[r].strip() for r in range(a, b + 1))))
    return keep, full


def _hole(f: SourceFile, kind: str, rng: random.Random) -> CodeHole | None:
    lines, blocks = _candidates(f.text, f.language)
    starts = line_starts(f.text)
    rows = f.text.split("\n")
    if kind == "block":
        if not blocks:
            return None
        a, b = rng.choice(blocks)
        start = starts[a] + len(rows[a]) - len(rows[a].lstrip())
        end = starts[b] + len(rows[b])
    else:
        if not lines:
            return None
        a = rng.choice(lines)
        line = rows[a]
        indent = len(line) - len(line.lstrip())
        start, end = starts[a] + indent, starts[a] + len(line.rstrip())
        if kind == "mid-line":
            cuts = [m.start() for m in _PAUSE.finditer(line, indent + 1) if len(line[m.start() :].strip()) >= 2]
            if not cuts:
                return None
            start = starts[a] + rng.choice(cuts)
    hole_id = f"{f.language}:{f.project}/{f.name}:{a + 1}:{kind}"
    return CodeHole(hole_id, kind, f.language, f.path, f.sha256, f.text, start, end)


def _part_of(f: SourceFile) -> str:
    """``dev`` or ``held``, from the file's name and project only (stable across machines)."""
    key = f"{f.language}:{f.project}/{f.name}"
    return "dev" if int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 2 == 0 else "held"


def pick_language(files: list[SourceFile], n: int, *, seed: int, part: str = "dev") -> list[CodeHole]:
    """``n`` holes of one language's files in ``part``, kinds in turn (`KINDS`), one project
    after another (seeded), so a package with hundreds of files does not fill the set."""
    pool = [f for f in files if part == "all" or _part_of(f) == part]
    by_project: dict[str, list[SourceFile]] = {}
    for f in pool:
        by_project.setdefault(f.project, []).append(f)
    if not by_project:
        return []
    rng = random.Random(f"{seed}/realcode/{files[0].language}/{part}")
    projects = sorted(by_project)
    rng.shuffle(projects)
    holes: list[CodeHole] = []
    seen: set[str] = set()
    tries = 0
    while len(holes) < n and tries < 60 * n:
        tries += 1
        project = projects[tries % len(projects)]
        hole = _hole(rng.choice(by_project[project]), KINDS[len(holes) % len(KINDS)], rng)
        if hole is None or hole.hole_id in seen:
            continue
        seen.add(hole.hole_id)
        holes.append(hole)
    return holes


def pick_holes(
    n: int, *, seed: int, languages: tuple[str, ...] = DEFAULT_LANGUAGES, part: str = "dev",
    log: Callable[[str], None] = lambda _: None,
) -> list[CodeHole]:
    """``n`` holes per language; a language whose sources are missing is skipped, logged."""
    holes: list[CodeHole] = []
    for lang in languages:
        if lang not in LANGUAGES:
            raise SystemExit(f"unknown real-code language {lang!r}; known: {', '.join(LANGUAGES)}")
        try:
            files = files_for(lang, log)
        except Missing as err:
            log(f"realcode: {lang} skipped: {err}")
            continue
        got = pick_language(files, n, seed=seed, part=part)
        log(f"realcode: {lang}: {len(got)} holes from {len({h.path for h in got})} files")
        holes += got
    return holes


# --- scoring ------------------------------------------------------------------------------------


@cache
def _baseline(source: str, language: str) -> ParseError | None:
    parser = parser_for(language)
    return parser(source) if parser else None


def parses(buffer: str, hole: CodeHole) -> bool | None:
    """Does the file still parse once the suggestion is accepted? A file that already had an
    error passes while the first error stays where it was. None: no parser for the language."""
    parser = parser_for(hole.language)
    if parser is None:
        return None
    try:
        err = parser(buffer)
        base = _baseline(hole.source, hole.language)
    except CannotJudge:
        return None
    if err is None:
        return True
    return base is not None and (err.from_start == base.from_start or err.from_end == base.from_end)


def _first_line(text: str) -> str:
    return next((ln.strip() for ln in text.split("\n") if ln.strip()), "")


def hole_record(hole: CodeHole, buffer: str, offered: bool, latency: float | None, info: dict | None = None) -> dict:
    """One hole's row of record.json, from the buffer once the suggestion is accepted."""
    middle = hole.middle_from_buffer(buffer)
    got = middle if middle is not None and offered else ""
    want = hole.expected
    return {"hole": hole.hole_id, "language": hole.language, "kind": hole.kind, "offered": offered,
            "latency_s": latency, "first_exact": _first_line(got) == _first_line(want),
            "first_es": edit_similarity(_first_line(got), _first_line(want)),
            "exact_match": exact_match(got, want), "edit_similarity": edit_similarity(got, want),
            "parses": parses(buffer, hole), "middle": got[:400], "expected": want[:400],
            **({"info": info} if info else {})}  # fmt: skip


async def ask_holes(completer: Completer, holes: list[CodeHole], progress: Progress | None = None,
                    look_s: float = 0.0) -> list[dict]:  # fmt: skip
    """Each hole in its own editor state (`bench.quality.ask_each`, ``look_s`` as there), the
    first item accepted."""
    answers = await ask_each(completer, [Ask(h.uri(), h.view(), h.language) for h in holes], progress, look_s)
    return [hole_record(h, a.buffer, bool(a.reply.text), a.latency_s, a.reply.info) for h, a in zip(holes, answers, strict=True)]


# --- figures ------------------------------------------------------------------------------------

METRICS = ("first_exact", "first_es", "exact_match", "edit_similarity")


def _figures(rows: list[dict]) -> dict:
    judged = [r["parses"] for r in rows if r["parses"] is not None]
    out = {"n": len(rows), **{m: sum(r[m] for r in rows) / len(rows) for m in METRICS},
           "parses": sum(judged) / len(judged) if judged else None,
           "empty": sum(not r["offered"] for r in rows)}  # fmt: skip
    return out


def summary(rows: list[dict]) -> dict:
    """Figures per language, per "language / kind", and over all rows ("all")."""
    groups: dict[str, list[dict]] = {}
    for r in rows:
        lang = r.get("language", "python")
        for key in (lang, f"{lang} / {r['kind']}", "all", f"all / {r['kind']}"):
            groups.setdefault(key, []).append(r)
    return {key: _figures(rs) for key, rs in groups.items()}


def empty_where_floor_answers(ours: list[dict], floor: list[dict]) -> dict[str, tuple[int, int]]:
    """Per language (and "all"): (holes where ours offered nothing, holes where the floor offered
    something), over the holes both were asked."""
    offered = {r["hole"]: r["offered"] for r in floor}
    out: dict[str, list[int]] = {}
    for r in ours:
        if not offered.get(r["hole"]):
            continue
        for key in (r.get("language", "python"), "all"):
            cell = out.setdefault(key, [0, 0])
            cell[0] += not r["offered"]
            cell[1] += 1
    return {k: (a, b) for k, (a, b) in out.items()}
