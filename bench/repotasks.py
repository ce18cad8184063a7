"""The repository-level set (issue 14): lines that use a name from another module of their package.

CrossCodeEval's idea on code nobody here wrote: the multi-file packages installed in the
project's virtual environment by ``make setup-dev``. A task hides one line of a function body
that uses a name imported from another module of the same package (``from .x import Name``,
``from pkg.x import Name``, ``from . import x`` then ``x.attr``, ``import pkg.x as m`` then
``m.attr``), so the model can only write it right from the file itself or from the other
module. Pure: files in, tasks out; no model.
"""

from __future__ import annotations

import ast
import hashlib
import random
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

# Top-level packages that `make setup-dev` installs (fim-lsp[dev] and what it pulls in), pure
# Python and split into several modules. One that is missing is skipped with a note. (Not yaml:
# it shares names through star imports, and its other lines use its compiled module.)
PACKAGES = ("anyio", "attr", "cattrs", "click", "dateutil", "diskcache", "filelock", "fsspec", "h11",
            "httpcore", "httpx", "huggingface_hub", "hypothesis", "idna", "iniconfig", "jinja2",
            "markupsafe", "packaging", "pathspec", "platformdirs", "pluggy", "psutil", "_pytest",
            "pygls", "pygments", "pyparsing", "pytest_lsp", "tqdm")  # fmt: skip
DEFAULT_N = 80
# Editor states a task is asked in: the cursor after the line's indentation (the default), at
# column 0 of the emptied line, typed up to the line's first cross-file name, two characters into it.
STATES = ("auto-indent", "column0", "before-name", "mid-name")
DEFAULT_SEED = 20261129
PER_PACKAGE = 4
MAX_LINE_CHARS = 160
MIN_CODE_CHARS = 8
MAX_FILE_BYTES = 200_000

_COMPOUND: tuple[type[ast.stmt], ...] = (
    ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try, ast.FunctionDef,
    ast.AsyncFunctionDef, ast.ClassDef, ast.Match, *([ast.TryStar] if hasattr(ast, "TryStar") else []),
)  # fmt: skip


@dataclass(frozen=True)
class RepoTask:
    """One hidden line. Paths are relative to the package's parent directory (``jinja2/x.py``)."""

    task_id: str  # path:line
    package: str
    path: str
    sha256: str  # of the file's bytes
    line: int  # 1-based
    indent: str  # the line's indentation: what the editor shows left of the cursor
    hidden: str  # from the first non-blank character to the end of the line (no line break)
    names: tuple[str, ...]  # the cross-file names the line uses, as written: "Frame", "nodes.Name"
    defining: tuple[str, ...] = field(default=())  # the package's files those names come from

    def view(self, source: str, state: str = "auto-indent") -> tuple[str, int]:
        """The buffer and cursor of an editor state (`STATES`), the hidden line's text removed
        from the cursor on; everything else of the file intact."""
        start, end = line_span(source, self.line)
        if (
            source[start:end] != self.indent + self.hidden
            and source[start:end].rstrip() != self.indent + self.hidden
        ):
            raise ValueError(f"{self.task_id}: the file is not the one the task was taken from")
        after = source[end + 1 :] if end < len(source) else ""
        typed = {"auto-indent": self.indent, "column0": ""}.get(state)
        if typed is None:
            if state not in STATES:
                raise ValueError(f"unknown editor state {state!r}; known: {', '.join(STATES)}")
            typed = self.indent + self.hidden[: self.name_column() + (2 if state == "mid-name" else 0)]
        return source[:start] + typed + "\n" + after, start + len(typed)

    def name_column(self) -> int:
        """Where the line's first cross-file name starts (0 when it cannot be found)."""
        found = [m.start() for n in self.names if (m := name_pattern(n).search(self.hidden))]
        return min(found, default=0)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Selection:
    tasks: list[RepoTask]
    notes: list[str]  # packages skipped, and why


def name_pattern(name: str) -> re.Pattern[str]:
    """``name`` as a whole identifier: ``Frame`` in ``Frame(x)``, not in ``Framework`` nor
    ``self.Frame``; ``m.attr`` as ``attr`` right after ``m.``."""
    head, _, attr = name.partition(".")
    pattern = rf"(?<![\w.]){re.escape(head)}"
    if attr:
        pattern += rf"\s*\.\s*{re.escape(attr)}"
    return re.compile(pattern + r"(?!\w)")


def line_span(source: str, line: int) -> tuple[int, int]:
    """Offsets of a 1-based line's first character and of its line break (or the end)."""
    start = 0
    for _ in range(line - 1):
        start = source.index("\n", start) + 1
    end = source.find("\n", start)
    return start, len(source) if end < 0 else end


# --- one file: its imports and its candidate lines ----------------------------------------------


def module_names(pkg_dir: Path) -> dict[str, str]:
    """Dotted module name -> path relative to the package's parent, for every ``*.py`` file."""
    out: dict[str, str] = {}
    for path in sorted(pkg_dir.rglob("*.py")):
        rel = path.relative_to(pkg_dir.parent)
        parts = list(rel.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if all(p.isidentifier() for p in parts):
            out[".".join(parts)] = rel.as_posix()
    return out


def _module_of(rel: str) -> tuple[str, str]:
    """(the file's module, the package its relative imports start from)."""
    parts = rel[: -len(".py")].split("/")
    if parts[-1] == "__init__":
        parts.pop()
        return ".".join(parts), ".".join(parts)
    return ".".join(parts), ".".join(parts[:-1])


def _module_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements run at import time: the module's, and those inside its if/try/with blocks."""
    for node in body:
        yield node
        if isinstance(node, ast.If | ast.With | ast.Try | ast.For | ast.While):
            for sub in ("body", "orelse", "finalbody"):
                yield from _module_level(getattr(node, sub, []))
            for handler in getattr(node, "handlers", []):
                yield from _module_level(handler.body)


def _defined(tree: ast.Module) -> set[str]:
    """Names the file defines itself: every def and class, and what module-level code assigns."""
    out = {
        n.name
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }
    for stmt in _module_level(tree.body):
        if isinstance(
            stmt,
            ast.Import | ast.ImportFrom | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef,
        ):
            continue
        targets: list[ast.AST] = []
        if isinstance(stmt, ast.Assign):
            targets = list(stmt.targets)
        elif isinstance(stmt, ast.AnnAssign | ast.AugAssign):
            targets = [stmt.target]
        elif isinstance(stmt, ast.For):
            targets = [stmt.target]
        for t in targets:
            out.update(n.id for n in ast.walk(t) if isinstance(n, ast.Name))
    return out


@dataclass(frozen=True)
class Imports:
    names: dict[str, str]  # bound name -> the package module it was imported from
    modules: dict[str, str]  # bound name -> the package module it is


def cross_file_imports(tree: ast.Module, rel: str, modules: dict[str, str]) -> Imports:
    """The module-level imports that bind a name to something of another module of the same
    package; names the file also defines itself are left out."""
    own, base = _module_of(rel)
    top = own.split(".")[0]
    names: dict[str, str] = {}
    mods: dict[str, str] = {}
    for stmt in _module_level(tree.body):
        if isinstance(stmt, ast.ImportFrom):
            if stmt.level:
                parts = base.split(".")
                if stmt.level - 1 >= len(parts):
                    continue
                origin = ".".join(parts[: len(parts) - (stmt.level - 1)])
                if stmt.module:
                    origin = f"{origin}.{stmt.module}"
            else:
                origin = stmt.module or ""
            if origin.split(".")[0] != top:
                continue
            for alias in stmt.names:
                if alias.name == "*":
                    continue
                bound = alias.asname or alias.name
                if f"{origin}.{alias.name}" in modules:
                    mods[bound] = f"{origin}.{alias.name}"
                elif origin != own:
                    names[bound] = origin
        elif isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if (
                    alias.asname
                    and alias.name.split(".")[0] == top
                    and alias.name in modules
                    and alias.name != own
                ):
                    mods[alias.asname] = alias.name
    defined = _defined(tree)
    return Imports({k: v for k, v in names.items() if k not in defined},
                   {k: v for k, v in mods.items() if k not in defined})  # fmt: skip


def _local_names(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """Parameters and names a function assigns: there an imported name means something else."""
    a = fn.args
    out = {x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs)}
    out.update(x.arg for x in (a.vararg, a.kwarg) if x is not None)
    out.update(
        n.id
        for n in ast.walk(fn)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store | ast.Del)
    )
    return out


def names_used(stmt: ast.stmt, imports: Imports, local: set[str]) -> list[tuple[str, str]]:
    """(name as written, its module) for each cross-file name the statement uses, in order."""
    found: list[tuple[int, str, str]] = []
    for node in ast.walk(stmt):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.ctx, ast.Load)
            and isinstance(node.value, ast.Name)
        ):
            m = node.value.id
            if m in imports.modules and m not in local:
                found.append((node.col_offset, f"{m}.{node.attr}", imports.modules[m]))
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            if node.id in imports.names and node.id not in local:
                found.append((node.col_offset, node.id, imports.names[node.id]))
    out: list[tuple[str, str]] = []
    for _, name, mod in sorted(found):
        if (name, mod) not in out:
            out.append((name, mod))
    return out


def file_tasks(source: str, rel: str, package: str, modules: dict[str, str]) -> list[RepoTask]:
    """Every candidate line of one file, in line order."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return []
    imports = cross_file_imports(tree, rel, modules)
    if not imports.names and not imports.modules:
        return []
    lines = source.split("\n")
    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()
    seen: set[int] = set()
    out: list[RepoTask] = []
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        local = _local_names(fn)
        for stmt in _body_statements(fn):
            if (
                stmt.lineno in seen
                or stmt.end_lineno != stmt.lineno
                or not _whole_line(stmt, lines)
            ):
                continue
            used = names_used(stmt, imports, local)
            if not used:
                continue
            text = lines[stmt.lineno - 1]
            hidden = text.strip()
            if len(text) > MAX_LINE_CHARS or sum(not c.isspace() for c in hidden) < MIN_CODE_CHARS:
                continue
            seen.add(stmt.lineno)
            defining = tuple(dict.fromkeys(modules[m] for _, m in used if m in modules))
            out.append(RepoTask(f"{rel}:{stmt.lineno}", package, rel, digest, stmt.lineno,
                                text[: len(text) - len(text.lstrip())], hidden,
                                tuple(n for n, _ in used), defining))  # fmt: skip
    return sorted(out, key=lambda t: t.line)


def _body_statements(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[ast.stmt]:
    """Simple statements of the function's body at any depth (not of functions nested in it,
    which are walked on their own), docstrings left out."""
    stack: list[ast.stmt] = list(fn.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        if isinstance(node, _COMPOUND):
            for sub in ("body", "orelse", "finalbody"):
                stack.extend(getattr(node, sub, []))
            for handler in getattr(node, "handlers", []):
                stack.extend(handler.body)
            for case in getattr(node, "cases", []):
                stack.extend(case.body)
            continue
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            continue
        yield node


def _whole_line(stmt: ast.stmt, lines: list[str]) -> bool:
    """The statement is alone on its line (no block header or ``;`` beside it); a trailing
    comment may follow. Offsets in the AST count UTF-8 bytes."""
    raw = lines[stmt.lineno - 1].encode("utf-8")
    if raw[: stmt.col_offset].strip() or stmt.end_col_offset is None:
        return False
    rest = raw[stmt.end_col_offset :].strip()
    return not rest or rest.startswith(b"#")


# --- the selection ------------------------------------------------------------------------------


def site_packages(repo: Path) -> Path | None:
    """The project's venv site-packages, the first of ``.venv/lib/python3*/site-packages``."""
    found = sorted(repo.glob(".venv/lib/python3*/site-packages"))
    return found[0] if found else None


def package_files(pkg_dir: Path) -> list[Path]:
    """The package's Python files a task may come from, sorted."""
    return [p for p in sorted(pkg_dir.rglob("*.py")) if p.stat().st_size <= MAX_FILE_BYTES]


def read_source(path: Path) -> str | None:
    """The file's text, or None when it is not UTF-8 or counts lines with "\\r" (offsets here
    count "\\n" only)."""
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return None if "\r" in text else text


def select(root: Path, n: int = DEFAULT_N, *, seed: int = DEFAULT_SEED, packages: tuple[str, ...] = PACKAGES,
           per_package: int = PER_PACKAGE) -> Selection:  # fmt: skip
    """``n`` tasks spread over the packages round-robin (in a seeded package order), at most
    ``per_package`` each, each of a package's tasks from a different file while files last.
    The same installed files and seed give the same tasks."""
    rng = random.Random(f"{seed}/repo")
    notes: list[str] = []
    queues: dict[str, list[RepoTask]] = {}
    for package in packages:
        if not (root / package / "__init__.py").is_file():
            notes.append(f"{package}: not installed in {root}; skipped")
            continue
        drawn = draw(root / package, per_package, rng)
        if not drawn:
            notes.append(f"{package}: no candidate line; skipped")
            continue
        queues[package] = drawn
    order = sorted(queues)
    rng.shuffle(order)
    tasks: list[RepoTask] = []
    for rnd in range(per_package):
        for package in order:
            if len(tasks) < n and rnd < len(queues[package]):
                tasks.append(queues[package][rnd])
    if len(tasks) < n:
        notes.append(f"only {len(tasks)} tasks found (asked for {n})")
    return Selection(tasks, notes)


def draw(pkg_dir: Path, k: int, rng: random.Random) -> list[RepoTask]:
    """Up to ``k`` distinct candidate lines of one package: the files in a seeded order, one
    line from each file that has any, again from the start while fewer than ``k``. Files are
    parsed as they are reached, so a big package costs a few files, not all."""
    modules = module_names(pkg_dir)
    files = [p.relative_to(pkg_dir.parent).as_posix() for p in package_files(pkg_dir)]
    rng.shuffle(files)
    left: dict[str, list[RepoTask]] = {}
    out: list[RepoTask] = []
    while len(out) < k:
        took = False
        for rel in files:
            if len(out) >= k:
                break
            if rel not in left:
                text = read_source(pkg_dir.parent / rel)
                left[rel] = file_tasks(text, rel, pkg_dir.name, modules) if text is not None else []
            if left[rel]:
                out.append(left[rel].pop(rng.randrange(len(left[rel]))))
                took = True
        if not took:
            break
    return out
