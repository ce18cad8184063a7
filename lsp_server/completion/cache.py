"""Answer from recent suggestions without touching the model. Pure: no pygls, no engine.

Two hits:
- *exact*: the same text around the cursor was completed recently (undo, cursor moved back);
- *typed-through*: the user typed the first characters of the suggestion on screen; the rest
  of it is still right, so it is returned at once.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from lsp_server.postprocess import Suggestion

TAIL = 512  # characters before the cursor that identify a position
HEAD = 256  # characters after the cursor


@dataclass(frozen=True)
class Entry:
    before_len: int
    before_tail: str
    after_head: str
    suggestions: tuple[Suggestion, ...]


class SuggestionCache:
    def __init__(self, capacity: int = 128) -> None:
        self._exact: OrderedDict[tuple[str, str, str], tuple[Suggestion, ...]] = OrderedDict()
        self._recent: dict[str, list[Entry]] = {}
        self._capacity = capacity
        self.hits = 0

    def remember(self, uri: str, before: str, after: str, suggestions: list[Suggestion]) -> None:
        if not suggestions:
            return
        key = (uri, before[-TAIL:], after[:HEAD])
        self._exact[key] = tuple(suggestions)
        self._exact.move_to_end(key)
        while len(self._exact) > self._capacity:
            self._exact.popitem(last=False)
        entries = self._recent.setdefault(uri, [])
        entries.append(Entry(len(before), before[-TAIL:], after[:HEAD], tuple(suggestions)))
        del entries[:-4]

    def lookup(self, uri: str, before: str, after: str, count: bool = True) -> list[Suggestion] | None:
        """Suggestions for this position, or None; ``count=False`` for a look that serves nobody."""
        exact = self._exact.get((uri, before[-TAIL:], after[:HEAD]))
        if exact is not None:
            self.hits += count
            return list(exact)
        for entry in reversed(self._recent.get(uri, [])):
            rest = _typed_through(entry, before, after)
            if rest:
                self.hits += count
                return rest
        return None

    def forget(self, uri: str) -> None:
        self._recent.pop(uri, None)
        for key in [k for k in self._exact if k[0] == uri]:
            del self._exact[key]


def _typed_through(entry: Entry, before: str, after: str) -> list[Suggestion]:
    typed_len = len(before) - entry.before_len
    if typed_len <= 0 or after[:HEAD] != entry.after_head:
        return []
    if before[entry.before_len - len(entry.before_tail) : entry.before_len] != entry.before_tail:
        return []
    typed = before[entry.before_len :]
    # A suggestion that replaces text before the cursor (a dedent) is not typed through.
    return [Suggestion(s.text[typed_len:]) for s in entry.suggestions if not s.replace
            and s.text.startswith(typed) and s.text[typed_len:].strip()]
