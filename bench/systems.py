"""The systems under test behind one `Completer` interface."""

from __future__ import annotations

from bench.editor import Position, offset_to_position, position_to_offset
from bench.fimlsp import FimLspServer, Suggestion
from bench.peer import InfillClient
from bench.replay import Reply


def added_text(doc: str, offset: int, sug: Suggestion) -> str:
    """The text a suggestion adds at the cursor, when its range also covers text before it."""
    a = position_to_offset(doc, sug.start)
    if a < offset and sug.text.startswith(doc[a:offset]):
        return sug.text[offset - a :]
    return sug.text


class OursCompleter:
    def __init__(self, server: FimLspServer, *, track_last: bool = True) -> None:
        self.server = server
        self.track_last = track_last
        self._completed: int | None = None

    def open(self, uri: str, text: str) -> None:
        self.server.open(uri, text)

    def change(self, uri: str, version: int, start: Position, text: str) -> None:
        self.server.change(uri, version, start, start, text)

    def close(self, uri: str) -> None:
        self.server.close(uri)

    async def complete(self, uri: str, text: str, offset: int, automatic: bool) -> Reply:
        if self.track_last and self._completed is None:
            st = await self.server.stats()
            self._completed = st.get("completed") if st else None
        items = await self.server.complete(uri, offset_to_position(text, offset), automatic)
        if not items:
            return Reply(None)
        buffer = items[0].apply(text)  # its range may start before the cursor (a dedent)
        info: dict = {}
        if self.track_last:
            # ``last`` describes the latest model run. It belongs to this answer only when exactly
            # one run completed since the previous read; none means the answer came from a cache.
            st = await self.server.stats()
            if st and isinstance(st.get("last"), dict):
                done = st.get("completed")
                ran = None if done is None or self._completed is None else done - self._completed
                self._completed = done
                info["model_runs"] = ran
                if ran == 1:
                    info["last"] = st["last"]
                elif ran == 0:
                    info["from_cache"] = True
        return Reply(added_text(text, offset, items[0]) or None, info, buffer)


class PeerCompleter:
    def __init__(self, client: InfillClient) -> None:
        self.client = client

    def open(self, uri: str, text: str) -> None:
        pass  # HTTP carries the text with each request

    def change(self, uri: str, version: int, start: Position, text: str) -> None:
        pass

    def close(self, uri: str) -> None:
        pass

    async def complete(self, uri: str, text: str, offset: int, automatic: bool) -> Reply:
        ans = await self.client.complete(text, offset, automatic)
        info: dict = {"from_cache": ans.from_cache}
        if ans.timings:
            info["timings"] = ans.timings
        buffer = text[:offset] + ans.text + text[offset:] if ans.text else None
        return Reply(ans.text, info, buffer)
