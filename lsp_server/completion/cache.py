"""Answer from recent suggestions without touching the model. Pure: no pygls, no engine.

Two hits:
- *exact*: the same text around the cursor was completed recently (undo, cursor moved back);
- *typed-through*: the user typed the first characters of the suggestion on screen; the rest
  of it is still right, so it is returned at once.

Used on the event loop only.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from lsp_server.completion.query import CursorState
from lsp_server.postprocess import Suggestion


@dataclass(frozen=True)
class Entry:
    state: CursorState
    suggestions: tuple[Suggestion, ...]


class SuggestionCache:
    def __init__(self, capacity: int = 128) -> None:
        self._exact: OrderedDict[tuple[str, str, str], tuple[Suggestion, ...]] = OrderedDict()
        self._recent: dict[str, list[Entry]] = {}
        self._capacity = capacity

    def remember(self, uri: str, before: str, after: str, suggestions: list[Suggestion]) -> None:
        if not suggestions:
            return
        state = CursorState.of(before, after)
        key = (uri, state.before, state.after)
        self._exact[key] = tuple(suggestions)
        self._exact.move_to_end(key)
        while len(self._exact) > self._capacity:
            self._exact.popitem(last=False)
        entries = self._recent.setdefault(uri, [])
        entries.append(Entry(state, tuple(suggestions)))
        del entries[:-4]

    def lookup(self, uri: str, before: str, after: str) -> list[Suggestion] | None:
        """Suggestions for this position (``before``: all the text before it), or None."""
        state = CursorState.of(before, after)
        exact = self._exact.get((uri, state.before, state.after))
        if exact is not None:
            return list(exact)
        for entry in reversed(self._recent.get(uri, [])):
            rest = _typed_through(entry, before, after)
            if rest:
                return rest
        return None

    def forget(self, uri: str) -> None:
        self._recent.pop(uri, None)
        for key in [k for k in self._exact if k[0] == uri]:
            del self._exact[key]


def _typed_through(entry: Entry, before: str, after: str) -> list[Suggestion]:
    """The rest of each suggestion typed through; one with nothing visible left is done.
    A suggestion that replaces text before the cursor (a dedent) is not typed through."""
    rests = [entry.state.typed_through(before, after, s.text) for s in entry.suggestions if not s.replace]
    return [Suggestion(rest) for rest in rests if rest is not None and rest.strip()]
