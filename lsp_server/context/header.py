"""The file's own import statements, shown before a prefix window that starts below them.

A window of a few hundred tokens above the cursor rarely reaches a long file's imports, and
without them the model does not know which names the file has at hand, nor where they come
from: on the repository-level set (bench/repo.py) it guessed neighbours of the imported names.
Import lines change rarely and sit above the window, so the header they make is as stable as the
window's first line, and typing below it re-evaluates none of it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

TokenCounter = Callable[[str], int]

# Statements are looked for in this many lines from the file's start: imports sit at the top, and
# a request must not scan a huge file.
SCAN_LINES = 400
MAX_STATEMENT_LINES = 40  # an unclosed bracket ends the statement after this many lines
MAX_LINE_CHARS = 400  # a longer line is not an import statement worth its tokens

# Column-0 starts of an import statement, by LSP language id; other languages get the first row.
_STARTS: dict[str, tuple[str, ...]] = {
    "": ("import ", "from ", "#include", "#import"),
    "python": ("import ", "from "),
    "javascript": ("import ",),
    "javascriptreact": ("import ",),
    "typescript": ("import ",),
    "typescriptreact": ("import ",),
    "java": ("import ",),
    "kotlin": ("import ",),
    "scala": ("import ",),
    "go": ("import ",),
    "swift": ("import ",),
    "dart": ("import ",),
    "rust": ("use ", "pub use ", "extern crate "),
    "c": ("#include",),
    "cpp": ("#include",),
    "objective-c": ("#include", "#import"),
    "objective-cpp": ("#include", "#import"),
    "csharp": ("using ",),
    "php": ("use ", "require", "include"),
    "ruby": ("require",),
    "lua": ("local ",),  # ``local x = require("x")``: kept only with ``require`` (see `_starts`)
}
_OPEN, _CLOSE = "([{", ")]}"
# Python's ``from <dots><module> import``, the one spelling of it (definitions.py reads the names
# after it); a line such as ``from the start, ...`` does not match.
PY_FROM_IMPORT = r"from[ \t]+(\.*)([\w.]*)[ \t]+import\b"
_PY_FROM = re.compile(PY_FROM_IMPORT)


def _starts(line: str, language: str) -> bool:
    starts = _STARTS.get(language, _STARTS[""])
    if not line.startswith(starts):
        return False
    if line.startswith("from "):
        return _PY_FROM.match(line) is not None
    if language == "lua":
        return "require" in line
    return True


def _depth(line: str) -> int:
    """Brackets the line leaves open, a trailing ``#`` or ``//`` comment left out (strings are
    not parsed: an import rarely holds a bracket in one)."""
    code = line if line.startswith("#") else line.split("#", 1)[0]
    code = code.split("//", 1)[0] if "://" not in code else code
    return sum(code.count(c) for c in _OPEN) - sum(code.count(c) for c in _CLOSE)


def statements(lines: list[str], language: str = "") -> list[str]:
    """The import statements among ``lines`` (each line with its end), each whole: brackets
    opened on its first line and backslash continuations included."""
    found: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if len(line) > MAX_LINE_CHARS or not _starts(line, language):
            continue
        parts, depth = [line], _depth(line)
        while (
            i < len(lines)
            and len(parts) < MAX_STATEMENT_LINES
            and (depth > 0 or parts[-1].rstrip().endswith("\\"))
        ):
            parts.append(lines[i])
            depth += _depth(lines[i])
            i += 1
        if depth <= 0 and not parts[-1].rstrip().endswith("\\"):
            found.append("".join(parts))
    return found


def import_header(lines: list[str], language: str, budget: int, count: TokenCounter) -> str:
    """The import statements of ``lines`` (the file above its prefix window), the nearest to the
    window first within ``budget`` tokens, given back in file order and followed by a blank line
    ("" when none fits): a project's own imports come last by convention, and they name what
    the model cannot guess."""
    if budget <= 0:
        return ""
    found = statements(lines[:SCAN_LINES], language)
    kept: list[str] = []
    left = budget
    for statement in reversed(found):
        if not statement.endswith("\n"):
            statement += "\n"
        cost = count(statement)
        if cost > left:
            break
        kept.append(statement)
        left -= cost
    return "".join(reversed(kept)) + "\n\n" if kept else ""
