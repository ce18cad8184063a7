"""The next-edit set: real code nobody here wrote (standard-library modules on this machine,
each file's sha256 recorded), a realistic first edit, and the edits expected to follow it.

Categories (each case is found mechanically with `ast`, so the set is repeatable on one Python):

- ``rename_param``: a parameter renamed in the ``def`` line -> its uses in the body;
- ``rename_local``: a local variable renamed where it is first assigned -> its later uses;
- ``add_param``: a parameter added at the end of a ``def`` -> the calls in the same file pass a
  variable of that name (the usual shape: a new setting threaded through);
- ``swap_params``: the first two parameters of a ``def`` swapped -> the calls swap their
  arguments;
- ``twin_branch``: a literal changed in an ``if`` branch -> the same literal in the same
  statement of its ``else`` branch;
- ``no_edit``: a first edit complete in itself (a literal used once changed, a comment added);
- ``no_edit_lookalike``: a first edit complete in itself that has the shape of one that is not
  (one call's argument changed from one parameter to another, both used elsewhere; one of a
  function's several equal integer literals changed): what a rule that carries every change
  gets wrong.

Expected follow-ups lie within `SPAN_LINES` lines of the first edit, so the model's region can
hold them. A case stores the edited buffer (the first edit made), the cursor, and the buffer
with the follow-ups made.
"""

from __future__ import annotations

import ast
import hashlib
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.traces import stdlib_dir
from lsp_server.documents import line_starts

MODULES = ("textwrap.py", "difflib.py", "calendar.py", "pprint.py", "shlex.py", "gettext.py", "ftplib.py",
           "smtplib.py", "tarfile.py", "http/cookiejar.py", "optparse.py", "inspect.py", "traceback.py",
           "locale.py", "mailbox.py", "netrc.py", "pstats.py", "trace.py", "pickletools.py", "uuid.py",
           "wave.py", "imaplib.py", "zipfile.py", "ast.py", "platform.py", "sched.py", "cgitb.py",
           "mimetypes.py", "plistlib.py", "poplib.py", "argparse.py", "configparser.py", "tokenize.py",
           "shutil.py", "urllib/parse.py", "ipaddress.py", "dataclasses.py", "email/utils.py", "fractions.py",
           "statistics.py", "typing.py", "enum.py", "logging/__init__.py", "subprocess.py", "pathlib.py",
           "datetime.py", "_pydecimal.py", "socket.py", "ssl.py", "unittest/case.py", "xml/dom/minidom.py",
           "json/encoder.py", "csv.py", "pydoc.py", "doctest.py", "codecs.py", "threading.py")  # fmt: skip
# The held-out selection: other modules, scored only at the end of a round (never tuned on).
HELDOUT_MODULES = (
    "_collections_abc.py", "_osx_support.py", "_pyio.py", "_strptime.py", "aifc.py", "asyncore.py", "base64.py",
    "bdb.py", "cgi.py", "compileall.py", "contextlib.py", "dis.py", "fileinput.py", "functools.py", "gzip.py",
    "heapq.py", "modulefinder.py", "nntplib.py", "ntpath.py", "os.py", "pdb.py", "pickle.py", "pkgutil.py",
    "posixpath.py", "profile.py", "random.py", "selectors.py", "site.py", "smtpd.py", "socketserver.py", "sunau.py",
    "sysconfig.py", "telnetlib.py", "tempfile.py", "tracemalloc.py", "turtle.py", "warnings.py", "weakref.py",
    "webbrowser.py", "zipimport.py", "asyncio/base_events.py", "asyncio/events.py", "asyncio/locks.py",
    "asyncio/proactor_events.py", "asyncio/selector_events.py", "asyncio/sslproto.py", "asyncio/streams.py",
    "asyncio/tasks.py", "asyncio/unix_events.py", "collections/__init__.py", "ctypes/__init__.py",
    "distutils/ccompiler.py", "distutils/cmd.py", "distutils/dist.py", "distutils/fancy_getopt.py",
    "distutils/util.py", "email/_header_value_parser.py", "email/_parseaddr.py", "email/_policybase.py",
    "email/charset.py", "email/feedparser.py", "email/generator.py", "email/header.py", "email/headerregistry.py",
    "email/message.py", "html/parser.py", "http/client.py", "http/cookies.py", "http/server.py",
    "importlib/_bootstrap.py", "importlib/_bootstrap_external.py", "logging/config.py", "logging/handlers.py",
    "multiprocessing/connection.py", "multiprocessing/managers.py", "multiprocessing/pool.py", "re/_compiler.py",
    "re/_parser.py", "tomllib/_parser.py", "urllib/request.py", "wsgiref/handlers.py", "wsgiref/validate.py",
    "xmlrpc/client.py", "xmlrpc/server.py", "zoneinfo/_zoneinfo.py")  # fmt: skip
SELECTIONS = {"dev": MODULES, "heldout": HELDOUT_MODULES}
CATEGORIES = ("rename_param", "rename_local", "add_param", "swap_params", "twin_branch", "no_edit",
              "no_edit_lookalike")
NO_EDIT = ("no_edit", "no_edit_lookalike")
SPAN_LINES = 18
PER_CATEGORY = 15  # cases per category, taken in module order, one per module and category
NEW_NAMES = {"s": "text", "n": "count", "i": "index", "k": "key", "v": "value", "x": "item", "f": "func",
             "d": "mapping", "p": "path", "e": "err", "c": "char", "l": "items", "a": "first", "b": "second",
             "t": "tok", "m": "match", "fp": "fileobj", "fn": "func", "obj": "target", "name": "label",
             "data": "payload", "line": "row", "text": "content", "value": "val", "result": "res",
             "args": "params", "msg": "message", "res": "result", "key": "name_key", "path": "file_path"}


@dataclass(frozen=True)
class Case:
    case_id: str
    category: str
    module: str
    sha256: str
    buffer: str  # after the first edit
    cursor: int  # just past the first edit
    expected: str  # the buffer with the follow-up edits made (== buffer: none expected)
    first_start: int  # the first edit, as a range of ``buffer`` (to replay it as keystrokes)
    first_end: int
    first_old: str
    old_name: str = ""  # rename cases: the search-and-replace baseline's pair
    new_name: str = ""


def new_name(name: str) -> str:
    return NEW_NAMES.get(name, f"{name}_new" if len(name) > 2 else f"{name}_val")


def _offset(starts: list[int], line: int, col: int) -> int:
    return starts[line - 1] + col


def _replace_at(text: str, edits: list[tuple[int, int, str]]) -> str:
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def _name_uses(fn: ast.FunctionDef, name: str, after_line: int) -> list[ast.Name]:
    return [n for n in ast.walk(fn) if isinstance(n, ast.Name) and n.id == name and n.lineno > after_line]


def _shadowed(fn: ast.FunctionDef, name: str) -> bool:
    """Nested scopes or comprehensions that may rebind the name make a rename ambiguous."""
    for node in ast.walk(fn):
        if node is not fn and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            return True
        if isinstance(node, ast.Global | ast.Nonlocal) and name in node.names:
            return True
    return False


def _rename_cases(src: str, tree: ast.Module, module: str, sha: str, local: bool) -> Iterator[Case]:
    starts = line_starts(src)
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef) or fn.end_lineno is None:
            continue
        if local:
            targets = [(s.targets[0].id, s.targets[0]) for s in fn.body
                       if isinstance(s, ast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], ast.Name)]
            spots = [(name, node.lineno, node.col_offset) for name, node in targets]
        else:
            spots = [(a.arg, a.lineno, a.col_offset) for a in fn.args.args if a.arg not in ("self", "cls")]
        for name, line, col in spots:
            uses = _name_uses(fn, name, line)
            if local and any(isinstance(u.ctx, ast.Store) for u in uses):
                continue  # assigned again: the first assignment is not the definition
            if not 2 <= len(uses) <= 6 or uses[-1].lineno - line > SPAN_LINES or _shadowed(fn, name):
                continue
            if line != fn.lineno and not local:
                continue  # multi-line signatures: keep the first edit on the def line
            new = new_name(name)
            if re.search(rf"\b{re.escape(new)}\b", src):
                continue
            start = _offset(starts, line, col)
            buffer = _replace_at(src, [(start, start + len(name), new)])
            shift = len(new) - len(name)
            follow = [(_offset(starts, u.lineno, u.col_offset) + shift, _offset(starts, u.lineno, u.col_offset)
                       + shift + len(name), new) for u in uses]
            kind = "rename_local" if local else "rename_param"
            yield Case(f"{module}:{line}:{kind}", kind, module, sha, buffer, start + len(new),
                       _replace_at(buffer, follow), start, start + len(new), name, name, new)
            break


def _calls_to(tree: ast.Module, name: str) -> list[ast.Call]:
    return [c for c in ast.walk(tree) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name) and c.func.id == name]


def _signature_cases(src: str, tree: ast.Module, module: str, sha: str, kind: str) -> Iterator[Case]:
    starts = line_starts(src)
    for fn in tree.body:
        if not isinstance(fn, ast.FunctionDef) or fn.args.vararg or fn.args.kwarg or fn.args.defaults:
            continue
        params = [a.arg for a in fn.args.args]
        calls = _calls_to(tree, fn.name)
        if not calls or len(params) < (2 if kind == "swap_params" else 1) or fn.lineno != fn.args.args[-1].lineno:
            continue
        if any(len(c.args) != len(params) or c.keywords or c.lineno != c.end_lineno for c in calls):
            continue
        if any(abs(c.lineno - fn.lineno) > SPAN_LINES + 6 for c in calls) or len(calls) > 4:
            continue
        last = fn.args.args[-1]
        if kind == "add_param":
            extra = "verbose" if "verbose" not in src else "strict"
            if extra in src:
                continue
            at = _offset(starts, last.lineno, last.end_col_offset or 0)
            buffer = _replace_at(src, [(at, at, f", {extra}")])
            cursor = at + len(extra) + 2
            follow = []
            for c in calls:
                end = _offset(starts, c.args[-1].end_lineno or 0, c.args[-1].end_col_offset or 0)
                end += len(extra) + 2 if end > at else 0
                follow.append((end, end, f", {extra}"))
            yield Case(f"{module}:{fn.lineno}:{kind}", kind, module, sha, buffer, cursor, _replace_at(buffer, follow),
                       at, at + len(extra) + 2, "")
        else:
            a0, a1 = fn.args.args[0], fn.args.args[1]
            s0, s1 = _offset(starts, a0.lineno, a0.col_offset), _offset(starts, a1.lineno, a1.col_offset)
            e1 = s1 + len(a1.arg)
            buffer = _replace_at(src, [(s0, s0 + len(a0.arg), a1.arg), (s1, e1, a0.arg)])
            segs = []
            for c in calls:
                x, y = c.args[0], c.args[1]
                xs = _offset(starts, x.lineno, x.col_offset)
                xe = _offset(starts, x.end_lineno or 0, x.end_col_offset or 0)
                ys = _offset(starts, y.lineno, y.col_offset)
                ye = _offset(starts, y.end_lineno or 0, y.end_col_offset or 0)
                if xs < s0:  # the def's own swap changed no lengths: offsets hold
                    pass
                segs += [(xs, xe, src[ys:ye]), (ys, ye, src[xs:xe])]
            yield Case(f"{module}:{fn.lineno}:{kind}", kind, module, sha, buffer, e1, _replace_at(buffer, segs),
                       s0, e1, src[s0:e1])
        return


def _literal_key(node: ast.Constant) -> str | None:
    if isinstance(node.value, bool) or not isinstance(node.value, int | str) or isinstance(node.value, bytes):
        return None
    if isinstance(node.value, str) and (not node.value.isidentifier() or len(node.value) > 20):
        return None
    return repr(node.value)


def _changed_literal(node: ast.Constant) -> str:
    value = node.value
    if isinstance(value, int):
        return str(value + 1 if value != 0 else 1)
    assert isinstance(value, str)  # `_literal_key` lets only ints and short names through
    return repr(value + "_new")


class _Shape(ast.NodeTransformer):
    """A statement with its names and literals blanked: two branches are twins when equal so."""

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return ast.Name(id="_", ctx=node.ctx)

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        return ast.Constant(value=0)


def _shape(stmt: ast.stmt) -> str:
    return ast.dump(_Shape().visit(ast.parse(ast.unparse(stmt))))


def _twin_cases(src: str, tree: ast.Module, module: str, sha: str) -> Iterator[Case]:
    starts = line_starts(src)
    for node in ast.walk(tree):
        if not isinstance(node, ast.If) or not node.orelse:
            continue
        twin = node.orelse[0].body if len(node.orelse) == 1 and isinstance(node.orelse[0], ast.If) else node.orelse
        if (twin[-1].end_lineno or 0) - node.lineno > SPAN_LINES:
            continue
        for a, b in zip(node.body, twin, strict=False):
            if _shape(a) != _shape(b):
                continue
            la = [c for c in ast.walk(a) if isinstance(c, ast.Constant) and _literal_key(c)]
            lb = [c for c in ast.walk(b) if isinstance(c, ast.Constant) and _literal_key(c)]
            pairs = [(x, y) for x in la for y in lb if _literal_key(x) == _literal_key(y)]
            if len(pairs) != 1 or (ast.unparse(a) == ast.unparse(b)):
                continue
            x, y = pairs[0]
            if x.lineno != x.end_lineno or y.lineno != y.end_lineno:
                continue
            xs = _offset(starts, x.lineno, x.col_offset)
            xe = _offset(starts, x.end_lineno or 0, x.end_col_offset or 0)
            new = _changed_literal(x)
            buffer = _replace_at(src, [(xs, xe, new)])
            shift = len(new) - (xe - xs)
            ys = _offset(starts, y.lineno, y.col_offset) + shift
            ye = _offset(starts, y.end_lineno or 0, y.end_col_offset or 0) + shift
            yield Case(f"{module}:{x.lineno}:twin_branch", "twin_branch", module, sha, buffer, xs + len(new),
                       _replace_at(buffer, [(ys, ye, new)]), xs, xs + len(new), src[xs:xe])
            return


def _no_edit_cases(src: str, tree: ast.Module, module: str, sha: str) -> Iterator[Case]:
    starts = line_starts(src)
    lines = src.splitlines(keepends=True)
    functions = [f for f in tree.body if isinstance(f, ast.FunctionDef) and (f.end_lineno or 0) - f.lineno > 6]
    for fn in functions[len(functions) // 3 :]:
        consts = [c for c in ast.walk(fn) if isinstance(c, ast.Constant) and isinstance(c.value, int)
                  and not isinstance(c.value, bool) and c.lineno == c.end_lineno]
        text = ast.get_source_segment(src, fn) or ""
        for c in consts:
            if text.count(repr(c.value)) == 1 and c.value not in (0, 1):
                s = _offset(starts, c.lineno, c.col_offset)
                e = _offset(starts, c.lineno, c.end_col_offset or 0)
                new = str(int(c.value or 0) * 2)  # type: ignore[arg-type]
                buffer = _replace_at(src, [(s, e, new)])
                yield Case(f"{module}:{c.lineno}:no_edit:literal", "no_edit", module, sha, buffer, s + len(new),
                           buffer, s, s + len(new), src[s:e])
                break
        else:
            stmt = fn.body[min(2, len(fn.body) - 1)]
            line = lines[stmt.lineno - 1]
            indent = line[: len(line) - len(line.lstrip())]
            at = starts[stmt.lineno - 1]
            comment = f"{indent}# Checked again below, after the state is known.\n"
            buffer = _replace_at(src, [(at, at, comment)])
            yield Case(f"{module}:{stmt.lineno}:no_edit:comment", "no_edit", module, sha, buffer, at + len(comment) - 1,
                       buffer, at, at + len(comment), "")
        return


def _lookalike_cases(src: str, tree: ast.Module, module: str, sha: str) -> Iterator[Case]:
    """A changed use or a changed shared literal, the one first that the file's hash picks (a mix)."""
    functions = [f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) and not _shadowed(f, "")]
    kinds = [_changed_uses(src, functions, module, sha), _changed_shared_literals(src, functions, module, sha)]
    if int(sha[:2], 16) % 2:
        kinds.reverse()
    for kind in kinds:
        yield from kind


def _changed_uses(src: str, functions: list[ast.FunctionDef], module: str, sha: str) -> Iterator[Case]:
    starts = line_starts(src)
    for fn in functions:
        params = [a.arg for a in fn.args.args if a.arg not in ("self", "cls")]
        for call in (c for c in ast.walk(fn) if isinstance(c, ast.Call)):
            names = [a for a in call.args if isinstance(a, ast.Name) and a.id in params]
            other = [p for p in params if p not in {a.id for a in names}]
            for arg in names:
                later = _name_uses(fn, arg.id, arg.lineno)
                if not other or not later or later[0].lineno - arg.lineno > SPAN_LINES:
                    continue
                s = _offset(starts, arg.lineno, arg.col_offset)
                buffer = _replace_at(src, [(s, s + len(arg.id), other[0])])
                yield Case(f"{module}:{arg.lineno}:no_edit_lookalike:use", "no_edit_lookalike", module, sha, buffer,
                           s + len(other[0]), buffer, s, s + len(other[0]), arg.id)
                return


def _changed_shared_literals(src: str, functions: list[ast.FunctionDef], module: str, sha: str) -> Iterator[Case]:
    starts = line_starts(src)
    for fn in functions:
        consts = [c for c in ast.walk(fn) if isinstance(c, ast.Constant) and type(c.value) is int
                  and c.value not in (0, 1) and c.lineno == c.end_lineno]  # ints: `int(c.value)` below
        for c in consts:
            same = [d for d in consts if d.value == c.value and d is not c and 0 < d.lineno - c.lineno <= SPAN_LINES]
            if same:
                s = _offset(starts, c.lineno, c.col_offset)
                e = _offset(starts, c.lineno, c.end_col_offset or 0)
                new = str(int(c.value) * 2)  # type: ignore[arg-type]
                buffer = _replace_at(src, [(s, e, new)])
                yield Case(f"{module}:{c.lineno}:no_edit_lookalike:literal", "no_edit_lookalike", module, sha, buffer,
                           s + len(new), buffer, s, s + len(new), src[s:e])
                return


def build(root: Path | None = None, selection: str = "dev") -> list[Case]:
    """Every case of the set, in a fixed order (module, category); ``selection`` names the
    modules (`SELECTIONS`)."""
    root = root or stdlib_dir()
    cases: list[Case] = []
    for module in SELECTIONS[selection]:
        path = root / module
        if not path.is_file():
            continue
        raw = path.read_bytes()
        src = raw.decode("utf-8")
        sha = hashlib.sha256(raw).hexdigest()
        tree = ast.parse(src)
        found = [*_rename_cases(src, tree, module, sha, local=False), *_rename_cases(src, tree, module, sha, local=True),
                 *_signature_cases(src, tree, module, sha, "add_param"),
                 *_signature_cases(src, tree, module, sha, "swap_params"),
                 *_twin_cases(src, tree, module, sha), *_no_edit_cases(src, tree, module, sha),
                 *_lookalike_cases(src, tree, module, sha)]
        for category in CATEGORIES:
            first = next((c for c in found if c.category == category), None)
            if first is not None and sum(c.category == category for c in cases) < PER_CATEGORY:
                ast.parse(first.expected)  # every expected buffer is valid Python
                cases.append(first)
    return cases


def describe(case: Case) -> dict[str, object]:
    """A case for the report, without the buffers."""
    out = asdict(case)
    for key in ("buffer", "expected"):
        out.pop(key)
    return out
