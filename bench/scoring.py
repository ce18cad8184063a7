"""Pure scoring: exact match, edit similarity, percentiles and the acceptance proxy."""

from __future__ import annotations

import math
from collections.abc import Sequence


def normalize_code(text: str) -> str:
    """Trailing whitespace of each line and blank lines at either end do not count."""
    lines = [ln.rstrip() for ln in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return "\n".join(lines)


def exact_match(candidate: str, reference: str) -> bool:
    return normalize_code(candidate) == normalize_code(reference)


def levenshtein(a: str, b: str) -> int:
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def edit_similarity(candidate: str, reference: str) -> float:
    """1 - Levenshtein distance / length of the longer string, on normalized code."""
    a, b = normalize_code(candidate), normalize_code(reference)
    if not a and not b:
        return 1.0
    return 1.0 - levenshtein(a, b) / max(len(a), len(b))


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100); None for no values."""
    if not values:
        return None
    xs = sorted(values)
    if len(xs) == 1:
        return xs[0]
    k = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def first_line_matches(suggestion: str, typed_after: str) -> bool:
    """Acceptance proxy: the suggestion's first non-blank line is exactly what the user went on
    to type, up to the end of that line.

    ``typed_after`` is the text the user typed from the cursor on. A suggestion that starts with
    a line break must match the line break(s) too.
    """
    i = 0
    while True:
        nl = suggestion.find("\n", i)
        line = suggestion[i:] if nl < 0 else suggestion[i:nl]
        if line.strip() or nl < 0:
            break
        i = nl + 1
    head = suggestion[:i] + line.rstrip()
    if not head.strip():
        return False
    if not typed_after.startswith(head):
        return False
    rest = typed_after[len(head) :]
    return rest == "" or rest.split("\n", 1)[0].strip() == ""
