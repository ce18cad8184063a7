"""What other modules of the workspace define, as short stubs the model can read. Pure: text in,
text out (the files are read by `lsp_server.workspace`).

A module's *summary* holds one stub per top-level name: a function's signature and the first
line of its docstring, a class's header, docstring line, fields and public method signatures, a
constant's first line. A buffer's *imports* are scanned line by line rather than parsed, so a
buffer the user is halfway through editing (not valid Python) still names what it imports.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from lsp_server.context.header import PY_FROM_IMPORT
from lsp_server.context.types import ExtraChunk
from lsp_server.context.window import MAX_TOKEN_CHARS

MAX_MEMBERS = 12  # fields and methods shown per class
MAX_LINE = 120  # characters of a constant's or a field's line
# Uses are counted in this many characters from the file's start: bounded work on a huge file.
RANK_CHARS = 200_000
MAX_IMPORTS = 200  # names looked up per buffer: each costs a few file-system lookups per request


@dataclass(frozen=True)
class Imported:
    """One name a module imports: ``from <dots><module> import <name> as <local>``, or the
    module itself (``name == ""``) for ``import <module> as <local>``."""

    local: str
    module: str
    name: str = ""
    level: int = 0  # leading dots of a relative import


@dataclass(frozen=True)
class ModuleSummary:
    stubs: dict[str, str] = field(default_factory=dict)  # top-level name -> its stub
    imports: dict[str, Imported] = field(default_factory=dict)  # re-exports: local name -> origin


@dataclass(frozen=True)
class Definition:
    """A stub of ``name`` as defined in ``path`` (relative to its workspace folder)."""

    path: str
    name: str
    stub: str
    uses: int = 0  # near the cursor: the more used, the sooner chosen


def summarize(source: str) -> ModuleSummary:
    """The stubs of a module's top-level names; an empty summary when it does not parse."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ModuleSummary()
    lines = source.splitlines()
    stubs: dict[str, str] = {}
    imports: dict[str, Imported] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            stubs[node.name] = _function_stub(node)
        elif isinstance(node, ast.ClassDef):
            stubs[node.name] = _class_stub(node, lines)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            for name in _assigned_names(node):
                stubs.setdefault(name, _first_line(lines, node))
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name != "*":
                    local = alias.asname or alias.name
                    imports[local] = Imported(local, node.module or "", alias.name, node.level)
    return ModuleSummary(stubs, imports)


def _assigned_names(node: ast.Assign | ast.AnnAssign) -> list[str]:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return [t.id for t in targets if isinstance(t, ast.Name)]


def _first_line(lines: list[str], node: ast.stmt) -> str:
    """A statement's first line; an opened bracket it does not close is closed after ``...``."""
    line = (lines[node.lineno - 1] if node.lineno - 1 < len(lines) else "")[:MAX_LINE].rstrip()
    if (node.end_lineno or node.lineno) > node.lineno and line.endswith(("(", "[", "{")):
        line += "..." + {"(": ")", "[": "]", "{": "}"}[line[-1]]
    return line


def _signature(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """``def name(args) -> returns:`` on one line, however the source wraps it."""
    kind = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
    returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
    return f"{kind} {node.name}({ast.unparse(node.args)}){returns}:"


def _class_header(node: ast.ClassDef) -> str:
    bases = [ast.unparse(b) for b in node.bases] + [ast.unparse(k) for k in node.keywords]
    return f"class {node.name}({', '.join(bases)}):" if bases else f"class {node.name}:"


def _doc_line(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, indent: str) -> list[str]:
    doc = ast.get_docstring(node, clean=True)
    if not doc or not doc.strip():
        return []
    first = doc.strip().splitlines()[0].strip().replace('"""', "'''")[:MAX_LINE]
    return [f'{indent}"""{first}"""']


def _function_stub(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """Signature, docstring line and ``...``: what a caller needs."""
    return "\n".join([_signature(node), *_doc_line(node, "    "), "    ..."])


def _class_stub(node: ast.ClassDef, lines: list[str]) -> str:
    """Header, docstring line, then fields and public method signatures (one line each)."""
    inner = "    "
    members: list[str] = []
    for item in node.body:
        if len(members) >= MAX_MEMBERS:
            break
        if isinstance(item, ast.AnnAssign | ast.Assign) and _assigned_names(item):
            if not all(n.startswith("__") for n in _assigned_names(item)):
                members.append(inner + _first_line(lines, item).strip())
        elif isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and _public(item.name):
            members.append(f"{inner}{_signature(item)} ...")
    return "\n".join([_class_header(node), *_doc_line(node, inner), *(members or [f"{inner}..."])])


def _public(name: str) -> bool:
    return not name.startswith("_") or name in ("__init__", "__call__", "__enter__", "__iter__", "__getitem__")


# ``from .mod import a, b as c`` (possibly in parentheses over several lines) or ``import a.b as c``;
# an unclosed parenthesis reads at most 2,000 characters on.
_FROM = re.compile(r"^[ \t]*" + PY_FROM_IMPORT + r"[ \t]+(\([^)]{0,2000}\)?|[^\n#;]*)", re.M)
_IMPORT = re.compile(r"^[ \t]*import[ \t]+([^\n#;]+)", re.M)
_CHAIN = re.compile(r"(?<![\w.])([A-Za-z_]\w*)(?:\.([A-Za-z_]\w*))?")  # a name, and its attribute
_NAME = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$")


def scan_imports(text: str) -> list[Imported]:
    """The first `MAX_IMPORTS` names imported in the first `RANK_CHARS` of ``text``, in order,
    from its lines alone (no parse)."""
    text = text[:RANK_CHARS]
    found: list[tuple[int, Imported]] = []
    for m in _FROM.finditer(text):
        dots, module, names = m.group(1), m.group(2), m.group(3)
        for part in names.strip("()").replace("\\\n", " ").split(","):
            name, _, alias = part.strip().partition(" as ")
            name, alias = name.strip(), alias.strip()
            if name and name != "*" and _NAME.match(name) and "." not in name:
                found.append((m.start(), Imported(alias or name, module, name, len(dots))))
    for m in _IMPORT.finditer(text):
        for part in m.group(1).split(","):
            module, _, alias = part.strip().partition(" as ")
            module, alias = module.strip(), alias.strip()
            if module and _NAME.match(module):
                found.append((m.start(), Imported(alias or module, module)))
    found.sort(key=lambda pair: pair[0])
    return [imp for _, imp in found[:MAX_IMPORTS]]


def uses(text: str, imports: Iterable[Imported]) -> dict[str, int]:
    """How often the file uses each imported local name (``local``) and each attribute of it
    (``local.attr``), import lines left out. Counted over the file, not near the cursor: the
    ranking decides which definitions the prompt shows, and one that moved with the cursor would
    change the prompt's first tokens, and re-evaluate all of it, at every jump."""
    body = "\n".join(ln for ln in text[:RANK_CHARS].split("\n") if not _is_import(ln))
    locals_ = {imp.local for imp in imports}
    counts: dict[str, int] = dict.fromkeys(locals_, 0)
    for head, attr in _CHAIN.findall(body):
        if head in locals_:
            counts[head] += 1
            if attr:
                counts[f"{head}.{attr}"] = counts.get(f"{head}.{attr}", 0) + 1
    return counts


def _is_import(line: str) -> bool:
    stripped = line.lstrip()
    return stripped.startswith("import ") or (stripped.startswith("from ") and " import" in stripped)


def pack(definitions: list[Definition], budget: int, count: Callable[[str], int]) -> tuple[ExtraChunk, ...]:
    """The most used of ``definitions`` (given in import order) within ``budget`` tokens, as one
    chunk per file. The chunks keep import order, not use order, so the prompt changes only when
    the selection does, and a ranking that shifts while the user types changes nothing while
    every definition fits."""
    chosen: set[int] = set()
    left = budget
    for i in sorted(range(len(definitions)), key=lambda i: -definitions[i].uses):
        stub = definitions[i].stub
        if len(stub) > left * MAX_TOKEN_CHARS:
            continue
        cost = count(stub + "\n\n")
        if cost <= left:
            chosen.add(i)
            left -= cost
    by_path: dict[str, list[str]] = {}
    for i, d in enumerate(definitions):
        if i in chosen:
            by_path.setdefault(d.path, []).append(d.stub)
    return tuple(ExtraChunk(path, "\n\n".join(stubs)) for path, stubs in by_path.items())
