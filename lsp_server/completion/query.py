"""What the completion stages are asked about: a query, and a cursor told apart by its text.

Pure data: the cache and the background jobs recognise a cursor again, or the same cursor with
text typed at it, through `CursorState` alone.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from lsp_server.documents import Snapshot
from lsp_server.postprocess import Suggestion

TAIL = 512  # characters before the cursor that identify a state
HEAD = 256  # characters after the cursor


@dataclass(frozen=True)
class CompletionQuery:
    snapshot: Snapshot
    offset: int  # string index of the cursor
    path: str = ""  # file path relative to the workspace
    repo: str = ""
    several: bool = False  # Invoked requests may get alternatives
    others: tuple[tuple[str, str], ...] = ()  # (path, text) of other open files, most relevant first
    file: str = ""  # the document's file system path ("" when it has none)

    @property
    def uri(self) -> str:
        return self.snapshot.uri

    def around(self) -> tuple[str, str]:
        """All the text before the cursor, and as much after it as identifies the state."""
        text, offset = self.snapshot.text, self.offset
        return text[:offset], text[offset : offset + HEAD]

    def accepting(self, suggestion: Suggestion) -> CompletionQuery:
        """The same query once ``suggestion`` is accepted: its text applied, the cursor after it."""
        doc = self.snapshot
        text, offset = suggestion.apply(doc.text, self.offset)
        # A new snapshot, not dataclasses.replace: that would keep the old text's line starts.
        return replace(self, snapshot=Snapshot(doc.uri, text, doc.version, doc.language_id), offset=offset)


@dataclass(frozen=True)
class CursorState:
    """A cursor, told apart by its offset and the text around it."""

    offset: int  # characters before the cursor
    before: str  # the last TAIL of them
    after: str  # the first HEAD characters after it

    @classmethod
    def of(cls, before: str, after: str) -> CursorState:
        return cls(len(before), before[-TAIL:], after[:HEAD])

    def typed_through(self, before: str, after: str, text: str) -> str | None:
        """The rest of ``text``, written at this cursor, once the user typed its start here.

        ``before`` is all the text before the user's cursor now. None unless the user typed at
        least one character here, the text after the cursor and the TAIL before this one are
        unchanged, and what was typed is where ``text`` starts.
        """
        n = self.offset
        if len(before) <= n or after[:HEAD] != self.after or before[n - len(self.before) : n] != self.before:
            return None
        typed = before[n:]
        return text[len(typed) :] if text.startswith(typed) else None
