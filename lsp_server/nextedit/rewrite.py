"""The rewrite as it comes in: where it stands against the original region, when to stop it,
and the whole region from a rewrite that stopped early. Pure.

Most of a rewritten region is a copy of the original. Once the rewrite has rejoined the original
after a change (its last complete lines equal original lines), and the rest of the original
holds none of the words the edit is about (`watch_words`), the rest would be copied too: the
engine stops there (`RejoinStop`) and `complete` appends the original's tail. The same rule
makes "no edit" cheap: a copy that has passed the cursor and every watched word stops at once.
"""

from __future__ import annotations

import difflib
import keyword
import re
from collections.abc import Iterable
from dataclasses import dataclass

_WORD = re.compile(r"[A-Za-z_]\w*|\d[\w.]*")
_CALLED = re.compile(r"([A-Za-z_]\w*)\s*\(")
_COMMON = frozenset({*keyword.kwlist, "self", "cls", "None", "True", "False"})


def words(text: str) -> set[str]:
    return set(_WORD.findall(text)) - _COMMON


def watch_words(before: Iterable[str], after: Iterable[str]) -> frozenset[str]:
    """What an edit from lines ``before`` to ``after`` is about: the words it removed or added,
    and the names called or defined on its lines (a signature change reaches their call sites)."""
    old, new = "\n".join(before), "\n".join(after)
    changed = words(old) ^ words(new)
    called = set(_CALLED.findall(new)) - _COMMON
    return frozenset(changed | called)


@dataclass(frozen=True)
class Alignment:
    """How a partial rewrite's complete lines line up with the original's lines."""

    position: int  # original lines accounted for by the rewrite so far
    rejoined: bool  # the rewrite's last line(s) are a copy of the original's
    changed: bool  # the rewrite differs from the original somewhere so far
    changed_lines: tuple[str, ...]  # the original lines it changed or dropped


def align(original: list[str], lines: list[str]) -> Alignment:
    """``original`` and ``lines`` keep their line ends; ``lines`` are the rewrite's complete lines."""
    ops = difflib.SequenceMatcher(None, original, lines, autojunk=False).get_opcodes()
    while ops and ops[-1][0] == "delete":  # original lines the rewrite has not reached yet
        ops.pop()
    if not ops:
        return Alignment(0, not lines, False, ())
    tag, i1, i2, j1, j2 = ops[-1]
    changed = tuple(line for op in ops if op[0] != "equal" for line in original[op[1] : op[2]])
    edited = any(op[0] != "equal" for op in ops)
    solid = tag == "equal" and (i2 - i1 >= 2 or bool(original[i2 - 1].strip()))
    return Alignment(i2, solid, edited, changed)


def complete_lines(text: str) -> list[str]:
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines.pop()
    return lines


class RejoinStop:
    """``should_stop`` for a rewrite of ``original``: True once the rest would be a copy."""

    def __init__(self, original: str, watch: frozenset[str], cursor_line: int) -> None:
        self._original = original.splitlines(keepends=True)
        self._watch = watch
        self._cursor_line = cursor_line  # in the region
        self.position: int | None = None  # original lines covered when it stopped

    def __call__(self, text: str) -> bool:
        if not text.endswith("\n"):
            return False
        at = align(self._original, complete_lines(text))
        if not at.rejoined or at.position >= len(self._original):
            return False
        if not at.changed and at.position <= self._cursor_line:
            return False
        watch = self._watch | words("".join(at.changed_lines))
        rest = words("".join(self._original[at.position :]))
        if rest & watch:
            return False
        self.position = at.position
        return True


def complete(original: str, text: str, finished: bool) -> str:
    """The whole new region from the rewrite's ``text``: as it is when the model ``finished`` it,
    else its complete lines and then the original from where they leave it."""
    if finished:
        return text
    lines = complete_lines(text)
    at = align(original.splitlines(keepends=True), lines)
    if not at.rejoined:
        return original  # stopped in the middle of a change: nothing safe to show
    return "".join(lines) + "".join(original.splitlines(keepends=True)[at.position :])
