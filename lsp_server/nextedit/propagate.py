"""Candidate follow-up edits, read off the user's latest edit: the same change carried to the
other places in the region it reaches. Pure.

A 0.5B model asked to rewrite a region mostly copies it (bench/nextedit.md): it rarely writes a
follow-up on its own, but it can tell a line that fits the edited code from one that does not.
So the edit's own shape proposes where follow-ups may go, and the model chooses at each place
(`predict`, `Engine.score`):

- a word replaced by another (a renamed name, a changed literal): its other whole-word
  occurrences, where they play the same part (an attribute only for an attribute); not when a
  use was changed to a name the region already has (another variable picked, not a rename);
- a parameter list's items swapped, or an item inserted or removed, in ``name(...)``: the calls
  of ``name`` whose arguments match the old list get the same change.

A candidate line holds every change proposed on it; `line_choices` lists the line's variants
(none, some, all of its changes), one of which the model picks. A change carried from a
definition is made on every line (renamed where it is bound, a parameter list of a ``def``):
there the follow-ups are what keeps the code working, and the 0.5B often declines them (an
inserted argument is an undefined name to it) — bench/nextedit.md.
"""

from __future__ import annotations

import bisect
import difflib
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass

from lsp_server.nextedit.history import Hunk
from lsp_server.nextedit.prompt import Region

_PIECE = re.compile(r"\w+|\s+|[^\w\s]")
_NAME = re.compile(r"[A-Za-z_$][\w$]*|\d[\w.]*")
_DEFINES = frozenset({"def", "function", "fn", "func", "fun", "class", "void", "new"})
_RECEIVERS = frozenset({"self", "cls", "this"})
MAX_CHANGES_PER_LINE = 3  # more: the line's variants are none or all of them


@dataclass(frozen=True)
class Change:
    """Replace ``start``..``end`` of the region's text with ``text``. ``sure``: carried from a
    definition (a name renamed where it is bound, a ``def``'s parameters changed), where its uses
    must follow or the code breaks; otherwise (a use or a literal changed, one call's arguments)
    the user may have meant that one place only, and the model decides."""

    start: int
    end: int
    text: str
    sure: bool = False


@dataclass(frozen=True)
class CandidateLine:
    """One region line (``line``, 0-based in the region) and the changes proposed on it."""

    line: int
    start: int  # the line's offset in the region's text
    text: str  # the line as it is, with its line break
    changes: tuple[Change, ...]


def propose(latest: Hunk, doc_text: str, region: Region, language: str = "python") -> list[CandidateLine]:
    """The lines of ``region`` (of ``doc_text``) where the latest edit's change may follow, in
    order, offsets in the region; [] when the edit has no shape to carry (a comment, a new
    statement): the common, cheap "no edit"."""
    before, after = "\n".join(latest.before), "\n".join(latest.after)
    kinds = Lexed(doc_text[: region.end], language, region.start)
    changes = [*_word_changes(before, after, latest, region, kinds),
               *_signature_changes(before, after, latest, region, kinds)]
    return _by_line(region.text, changes)


# -- code, strings and comments ----------------------------------------------------------------------

_PY_LEX = re.compile(r"""#[^\n]*|[rbuRBUfF]{0,2}(?:'''(?:\\[\s\S]|[^\\])*?(?:'''|$(?![\s\S]))|\"\"\"(?:\\[\s\S]|[^\\])*?(?:\"\"\"|$(?![\s\S]))"""
                     r"""|'(?:\\.|[^'\\\n])*'?|"(?:\\.|[^"\\\n])*"?)""")
_C_LEX = re.compile(r"""//[^\n]*|/\*[\s\S]*?(?:\*/|$(?![\s\S]))|'(?:\\.|[^'\\\n])*'?|"(?:\\.|[^"\\\n])*"?"""
                    r"""|`(?:\\[\s\S]|[^`\\])*`?""")


class Lexed:
    """Where a text's strings and comments are, read from its start (a region alone may start
    inside a docstring); enough to keep a renamed variable's follow-ups out of prose."""

    def __init__(self, text: str, language: str, offset: int = 0) -> None:
        """``offset``: where the positions `kind` is asked about start in ``text``."""
        self._offset = offset
        self.python = language == "python"
        lexer = _PY_LEX if self.python else _C_LEX
        self.spans = [(m.start(), m.end(), "comment" if m.group().lstrip("rbuRBUfF").startswith(("#", "//", "/*"))
                       else "string") for m in lexer.finditer(text)]
        self._starts = [s for s, _, _ in self.spans]

    def kind(self, at: int) -> str:
        at += self._offset
        i = bisect.bisect_right(self._starts, at) - 1
        if i >= 0 and self.spans[i][0] <= at < self.spans[i][1]:
            return self.spans[i][2]
        return "code"


# -- a word replaced ---------------------------------------------------------------------------------


def _replaced_word(before: str, after: str) -> tuple[str, str, bool] | None:
    """(old, new, after a dot) when the edit replaced one word by one word and nothing else."""
    a, b = _PIECE.findall(before), _PIECE.findall(after)
    ops = [op for op in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes() if op[0] != "equal"]
    if len(ops) != 1 or ops[0][0] != "replace":
        return None
    _, i1, i2, j1, j2 = ops[0]
    if i2 - i1 != 1 or j2 - j1 != 1 or not _NAME.fullmatch(a[i1]) or not _NAME.fullmatch(b[j1]):
        return None
    return a[i1], b[j1], i1 > 0 and a[i1 - 1] == "."


def _word_changes(before: str, after: str, latest: Hunk, region: Region, kinds: Lexed) -> Iterator[Change]:
    """The replaced word's other occurrences below the edit, within its scope, in code where
    the edited one was code (a string's word only in a string), attribute for attribute."""
    found = _replaced_word(before, after)
    if found is None:
        return
    old, new, attribute = found
    text = region.text
    edited = _edited_offset(text, latest, region, new)
    if edited is None:
        return
    kind = kinds.kind(edited)
    sure = kind == "code" and not attribute and binds(text, edited, len(new), kinds.python)
    if not sure and kind == "code" and _switched(text, new):
        return
    lo, hi = _scope(text, edited, kinds.python)
    for m in re.finditer(_word(old), text[lo:hi]):
        at = lo + m.start()
        if _in_hunk(text, at, latest, region) or kinds.kind(at) != kind:
            continue
        dotted = _after_dot(text, at)
        if dotted == attribute and not (kinds.python and _keyword_argument(text, at, len(old))):
            yield Change(at, at + len(old), new, sure)


def _word(word: str, then: str = r"(?![\w$])") -> str:
    """A regex for ``word`` as a whole identifier (``$`` counts as a word character, as in
    JavaScript), followed by ``then``."""
    return rf"(?<![\w$]){re.escape(word)}{then}"


def _after_dot(text: str, at: int) -> bool:
    """Does ``text[at]`` follow a dot on its own line (an attribute or a method call)? Spaces
    only are skipped: a line before that ends in a full stop says nothing."""
    return text[:at].rstrip(" \t").endswith(".")


def _switched(text: str, new: str) -> bool:
    """A use changed to a name the region already has: the user picked another variable there
    (``f(a)`` -> ``f(b)``), not a new name for the old one, so the other uses stay."""
    return _NAME.fullmatch(new) is not None and not new[0].isdigit() and len(
        re.findall(_word(new), text)) > 1


def _keyword_argument(text: str, at: int, size: int) -> bool:
    """``name=`` inside a call's parentheses: Python's keyword, not the variable."""
    if not re.match(r"\s*=(?!=)", text[at + size :]):
        return False
    line = text[text.rfind("\n", 0, at) + 1 : at]
    return line.count("(") > line.count(")")


_PY_BINDS_AFTER = re.compile(r"(?:^\s*(?:async\s+)?(?:def|class)\s+|\b(?:as|global|nonlocal|import)\s+(?:[\w.]+\s*,\s*)*)$")
_TARGETS = re.compile(r"^\s*(?:[\w.\[\]*]+\s*,\s*)*\(?$")  # what may stand before a name an assignment binds
_ASSIGNS = re.compile(r"\s*(?:\)\s*)?(?:,[\w\s.,*()\[\]]*)?(?::[^=\n]*)?(?:=(?!=)|:=)")
_DECLARES = re.compile(r"\s*(?:=(?!=)|;|,|\)|:|\[|\bin\b|\bof\b)")
# a brace language's declaration up to its name: qualifiers, then a type (``int``, ``Map<K, V>``,
# ``char *``, ``std::string&``, ``int[]``) and nothing else on the line before it
_C_DECLARATION = re.compile(r"^\s*(?:(?:const|static|final|unsigned|signed|struct|public|private|protected|readonly"
                            r"|volatile|extern|register|mut)\s+)*([A-Za-z_$][\w$:.]*)(?:<[^()=;]*>)?(?:\[\])*\s*[*&]*\s*$")
_NOT_TYPES = frozenset({"return", "case", "throw", "else", "new", "delete", "typeof", "in", "of", "await", "yield",
                        "goto", "sizeof", "instanceof", "and", "or", "not", "is", "if", "while", "for", "do"})
_CONTROL = frozenset({"if", "while", "for", "switch", "catch", "return", "with", "elif", "print", "assert"})


def binds(text: str, at: int, size: int, python: bool) -> bool:
    """Whether the name at ``at`` is bound there (a parameter of a definition, an assignment's
    target, a declaration, ``for``/``as``/``import``), not used. Read from its line alone: a
    name bound on a continued line counts as a use, and the model decides for it."""
    start = text.rfind("\n", 0, at) + 1
    end = text.find("\n", at)
    head, tail = text[start:at], text[at + size : len(text) if end < 0 else end]
    if _in_definition_header(head, python):
        return True
    if python:
        if _PY_BINDS_AFTER.search(head) or re.match(r"\s*:=", tail):
            return True
        loop = re.search(r"\bfor\s+([\w\s,()]*)$", head)
        if loop and not re.search(r"\bin\b", loop.group(1)):
            return True
        return bool(_TARGETS.match(head)) and bool(_ASSIGNS.match(tail)) and not _keyword_argument(text, at, size)
    if re.search(r"\b(?:let|const|var|auto)\s+(?:[\w$]+\s*,\s*)*$", head):
        return True
    decl = _C_DECLARATION.match(head)
    return decl is not None and decl.group(1) not in _NOT_TYPES and bool(_DECLARES.match(tail))


def _in_definition_header(head: str, python: bool) -> bool:
    """The line up to a name is inside the parameter list of a definition (``def f(a, ``,
    ``function f(``, ``int f(int a, ``), or names the definition itself."""
    depth, opened = 0, -1
    for i in range(len(head) - 1, -1, -1):
        if head[i] == ")":
            depth += 1
        elif head[i] == "(":
            if depth == 0:
                opened = i
                break
            depth -= 1
    if opened < 0:
        return False
    words = re.findall(r"[A-Za-z_$][\w$]*", head[:opened])
    if len(words) >= 2 and words[-2] in _DEFINES:
        return True
    if python or not words or words[0] in _CONTROL:
        return False
    return bool(re.match(r"\s*(?:[\w$<>\[\],*&]+\s+)+[\w$]+\s*$", head[:opened]))  # "int f(", "static void f("


def _edited_offset(text: str, latest: Hunk, region: Region, new: str) -> int | None:
    """Where the new word stands in the region (on the hunk's lines); None outside the region."""
    first = latest.start - region.start_line
    lines = text.splitlines(keepends=True)
    if not 0 <= first < len(lines):
        return None
    start = sum(len(x) for x in lines[:first])
    hunk_text = "".join(lines[first : first + max(1, len(latest.after))])
    m = re.search(_word(new), hunk_text)
    return start + m.start() if m else None


_PY_HEADER = re.compile(r"\s*(async\s+def|def|class)\b")


def _opens_scope(line: str, python: bool) -> bool:
    """A Python ``def``/``class`` line (locals live in the function); elsewhere any line that
    opens a brace block (block-scoped declarations)."""
    return bool(_PY_HEADER.match(line)) if python else line.rstrip().endswith("{")


def _scope(text: str, at: int, python: bool = True) -> tuple[int, int]:
    """The span a name defined at offset ``at`` lives in: from its line to the end of the
    innermost definition holding it (the first later line indented no deeper than that
    definition's header: Python's dedent, a brace language's closing line)."""
    lines = text.splitlines(keepends=True)
    starts = list(itertools.accumulate((len(x) for x in lines), initial=0))
    line = text.count("\n", 0, at)
    header = line if _opens_scope(lines[line], python) else line - 1
    while header >= 0 and header != line and not (
        _opens_scope(lines[header], python) and _indent(lines[header]) < _indent(lines[line])
    ):
        header -= 1
    if header < 0:
        return starts[line], len(text)
    depth = _indent(lines[header])
    for i in range(line + 1, len(lines)):
        if lines[i].strip() and _indent(lines[i]) <= depth and not lines[i].lstrip().startswith((")", "]")):
            return starts[line], starts[i] + (len(lines[i]) if lines[i].lstrip().startswith("}") else 0)
    return starts[line], len(text)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


# -- a parameter list changed ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Items:
    """The items of the first bracketed list after ``name(`` on a line."""

    name: str
    items: tuple[str, ...]  # stripped
    spans: tuple[tuple[int, int], ...]  # each item's text span (stripped), in the line
    close: int  # offset of the closing parenthesis


def _call_items(line: str, at: int) -> _Items | None:
    """The parenthesised list opening at ``line[at] == "("``, split at its top-level commas; None
    when it does not close on this line."""
    depth, start = 0, at + 1
    spans: list[tuple[int, int]] = []
    quote = ""
    for i in range(at, len(line)):
        ch = line[i]
        if quote:
            if ch == quote and line[i - 1] != "\\":
                quote = ""
            continue
        if ch in "'\"`":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                spans.append((start, i))
                return _items(line, at, spans, i)
        elif ch == "," and depth == 1:
            spans.append((start, i))
            start = i + 1
    return None


def _items(line: str, at: int, spans: list[tuple[int, int]], close: int) -> _Items:
    name = re.search(r"([A-Za-z_$][\w$]*)\s*$", line[:at])
    stripped = []
    for s, e in spans:
        piece = line[s:e]
        lead = len(piece) - len(piece.lstrip())
        stripped.append((s + lead, s + lead + len(piece.strip())))
    if len(stripped) == 1 and stripped[0][0] == stripped[0][1]:
        stripped = []  # "()": no items
    return _Items(name.group(1) if name else "", tuple(line[s:e] for s, e in stripped), tuple(stripped), close)


def _param_name(item: str) -> str:
    """The name a parameter item binds (``count: int = 0`` -> ``count``); "" for ``*``, ``/``."""
    m = re.match(r"[*&]*\s*([A-Za-z_$][\w$]*)", item)
    if not m:
        return ""
    words = re.findall(r"[A-Za-z_$][\w$]*", item.split("=")[0].split(":")[0])
    return words[-1] if words else m.group(1)  # C-like "int count": the last word


def _signature(before: str, after: str) -> tuple[str, list[str], list[str], bool] | None:
    """(name, old parameters, new parameters, whether a definition's) of the one ``name(...)``
    list the edit changed."""
    for m in re.finditer(r"[A-Za-z_$][\w$]*\s*\(", after):
        new = _call_items(after, m.end() - 1)
        if new is None or not new.name:
            continue
        for n in re.finditer(_word(new.name, r"\s*\("), before):
            old = _call_items(before, n.end() - 1)
            if old is not None and old.items != new.items:
                return new.name, list(old.items), list(new.items), _defines(after, m.start())
    return None


def _signature_changes(before: str, after: str, latest: Hunk, region: Region, kinds: Lexed) -> Iterator[Change]:
    sig = _signature(before, after)
    if sig is None:
        return
    name, old, new, definition = sig
    text = region.text
    for m in re.finditer(_word(name, r"\s*\("), text):
        if _in_hunk(text, m.start(), latest, region) or _defines(text, m.start()) or kinds.kind(m.start()) != "code":
            continue
        line_start = text.rfind("\n", 0, m.start()) + 1
        line_end = text.find("\n", m.end())
        line = text[line_start : len(text) if line_end < 0 else line_end]
        call = _call_items(line, m.end() - 1 - line_start)
        if call is None:
            continue
        receiver = _after_dot(text, m.start())
        edit = _carry(old, new, call, receiver)
        if edit is not None:
            s, e, replacement = edit
            yield Change(line_start + s, line_start + e, replacement, definition)


def _defines(text: str, at: int) -> bool:
    """Whether the name at ``at`` is being defined (``def name(``), not called."""
    before = re.findall(r"[A-Za-z_$][\w$]*", text[max(0, at - 40) : at].split("\n")[-1])
    return bool(before) and before[-1] in _DEFINES


def _carry(old: list[str], new: list[str], call: _Items, receiver: bool) -> tuple[int, int, str] | None:
    """The change to ``call``'s arguments that the parameters' change from ``old`` to ``new``
    asks for: (start, end, text) in the call's line; None when the call does not match."""
    skip = 1 if receiver and old and _param_name(old[0]) in _RECEIVERS else 0
    old_names = [_param_name(p) for p in old[skip:]]
    new_names = [_param_name(p) for p in new[skip:]]
    args = list(call.items)
    if len(args) != len(old_names) or not all(old_names) or not all(new_names):
        return None
    if sorted(old_names) == sorted(new_names) and old_names != new_names:
        order = [old_names.index(n) for n in new_names]
        moved = [args[i] for i in order]
        return _rewrite(call, moved)
    if len(new_names) == len(old_names) + 1:
        k = next((i for i, (a, b) in enumerate(zip(old_names, new_names, strict=False)) if a != b), len(old_names))
        if new_names[:k] + new_names[k + 1 :] != old_names or "=" in new[skip + k]:
            return None  # not one insertion, or one with a default: callers need not change
        return _rewrite(call, [*args[:k], new_names[k], *args[k:]])
    if len(new_names) == len(old_names) - 1:
        k = next((i for i, (a, b) in enumerate(zip(old_names, new_names, strict=False)) if a != b), len(new_names))
        if old_names[:k] + old_names[k + 1 :] != new_names:
            return None
        return _rewrite(call, [*args[:k], *args[k + 1 :]])
    return None


def _rewrite(call: _Items, args: list[str]) -> tuple[int, int, str]:
    """The argument list's span rewritten to ``args``, keeping the call's separator style."""
    if call.spans:
        start, end = call.spans[0][0], call.spans[-1][1]
    else:
        start = end = call.close
    return start, end, ", ".join(args)


# -- lines -------------------------------------------------------------------------------------------


def _in_hunk(text: str, at: int, latest: Hunk, region: Region) -> bool:
    line = region.start_line + text.count("\n", 0, at)
    return latest.start <= line < max(latest.end, latest.start + 1)


def _by_line(text: str, changes: list[Change]) -> list[CandidateLine]:
    out: dict[int, list[Change]] = {}
    for c in sorted(set(changes), key=lambda c: c.start):
        out.setdefault(text.count("\n", 0, c.start), []).append(c)
    lines = text.splitlines(keepends=True)
    starts = list(itertools.accumulate((len(x) for x in lines), initial=0))
    result = []
    for n, cs in sorted(out.items()):
        kept: list[Change] = []
        for c in cs:  # overlapping changes (two rules at one place): the first
            if not kept or c.start >= kept[-1].end:
                kept.append(c)
        rel = tuple(Change(c.start - starts[n], c.end - starts[n], c.text, c.sure) for c in kept)
        result.append(CandidateLine(n, starts[n], lines[n], rel))
    return result


def line_choices(line: CandidateLine) -> list[tuple[str, tuple[Change, ...]]]:
    """The line's variants, the one with only its sure changes first: every subset of its other
    changes (past `MAX_CHANGES_PER_LINE`, none and all) with the sure ones made. One variant:
    nothing for the model to choose."""
    sure = tuple(c for c in line.changes if c.sure)
    changes = tuple(c for c in line.changes if not c.sure)
    if len(changes) > MAX_CHANGES_PER_LINE:
        subsets: list[tuple[Change, ...]] = [(), changes]
    else:
        subsets = [s for k in range(len(changes) + 1) for s in itertools.combinations(changes, k)]
    return [(_applied(line.text, sure + s), sure + s) for s in subsets]


def _applied(text: str, changes: tuple[Change, ...]) -> str:
    for c in sorted(changes, key=lambda c: c.start, reverse=True):
        text = text[: c.start] + c.text + text[c.end :]
    return text
