"""The systems under test: each behind one `Completer` interface, and each described for
`bench.runner` (how it starts, which client asks it, what its tokens were, how it stops)."""

from __future__ import annotations

import asyncio
import shlex
from pathlib import Path
from typing import Any

from bench.editor import Position, offset_to_position, position_to_offset
from bench.fimlsp import FimLspServer, Suggestion
from bench.peer import InfillAnswer, InfillClient, InfillSettings, LlamaServer
from bench.replay import Reply
from bench.runner import Ending, TokenTotals


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

    def open(self, uri: str, text: str, language: str = "python") -> None:
        self.server.open(uri, text, language)

    def change(self, uri: str, version: int, start: Position, text: str) -> None:
        self.server.change(uri, version, start, start, text)

    def close(self, uri: str) -> None:
        self.server.close(uri)

    def rest(self, uri: str, text: str, offset: int) -> None:
        self.server.cursor(uri, offset_to_position(text, offset))

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

    def open(self, uri: str, text: str, language: str = "python") -> None:
        pass  # HTTP carries the text with each request

    def change(self, uri: str, version: int, start: Position, text: str) -> None:
        pass

    def close(self, uri: str) -> None:
        pass

    def rest(self, uri: str, text: str, offset: int) -> None:
        pass  # llama-server has no notion of a cursor before a request

    async def complete(self, uri: str, text: str, offset: int, automatic: bool) -> Reply:
        ans = await self.client.complete(text, offset, automatic)
        info: dict = {"from_cache": ans.from_cache}
        if ans.timings:
            info["timings"] = ans.timings
        buffer = text[:offset] + ans.text + text[offset:] if ans.text else None
        return Reply(ans.text, info, buffer)


# --- the systems under test, as `bench.runner` drives them --------------------------------------

StatsPair = tuple[dict | None, dict | None]  # fimLsp/stats read before and after one replay


class _SharedClient:
    """fim-lsp's one connection: every part of the run uses it, so closing it is a no-op."""

    def __init__(self, completer: OursCompleter) -> None:
        self.completer = completer

    async def aclose(self) -> None:
        pass


class _FimLspTyping(_SharedClient):
    def __init__(self, completer: OursCompleter, server: FimLspServer) -> None:
        super().__init__(completer)
        self.server = server
        self.before: dict | None = None

    async def replay_starts(self) -> None:
        self.before = await self.server.stats()

    async def replay_ended(self) -> StatsPair:
        return self.before, await self.server.stats()


class FimLsp:
    """fim-lsp over stdio: one process and one `OursCompleter` for the whole run; its tokens
    come from the growth of its ``fimLsp/stats`` counters over each replay."""

    key = "ours"
    label = "fim-lsp"

    def __init__(self, server: FimLspServer, quality_states: tuple[str, ...]) -> None:
        self.server = server
        self.completer = OursCompleter(server)
        self.quality_states = quality_states

    @classmethod
    def launch(cls, command: str, settings: dict, out_dir: Path, quality_states: tuple[str, ...],
               root: Path | None = None) -> FimLsp:  # fmt: skip
        """``command`` (a shell-quoted line) with its log and stderr in ``out_dir``; ``root``: the
        workspace folder, where the typing traces are opened at their own paths."""
        cmd = [*shlex.split(command), "--log-file", str(out_dir / "fim-lsp.log")]
        return cls(FimLspServer(cmd, settings, out_dir / "fim-lsp.stderr", root=root), quality_states)

    @property
    def root(self) -> Path | None:
        return self.server.root

    @property
    def spawned_at(self) -> float:
        return self.server.spawned_at

    def meta(self) -> dict[str, Any]:
        return {}

    async def start(self) -> float:
        return await self.server.start()

    async def stop(self) -> None:
        await self.server.stop()

    async def answered_from_model(self) -> bool:
        stats = await self.server.stats()
        return bool(stats and stats.get("completed"))

    def client(self) -> _SharedClient:
        return _SharedClient(self.completer)

    def typing_client(self, behaviour: str) -> _FimLspTyping:
        return _FimLspTyping(self.completer, self.server)

    def typing_tokens(
        self, behaviour: str, usage: list[StatsPair], n_requests: int
    ) -> tuple[TokenTotals, list[str]]:
        d = {k: _sum_deltas(usage, k) for k in ("nPrompt", "nReused", "nGenerated", "tGenS")}
        evaluated = None if d["nPrompt"] is None else d["nPrompt"] - (d["nReused"] or 0)
        notes = []
        if n_requests and d["nPrompt"] == 0:
            notes.append(
                f"fim-lsp {behaviour}: fimLsp/stats did not move over {n_requests} requests; "
                "work on requests that were cancelled is not counted there."
            )
        return TokenTotals(evaluated, d["nReused"], d["nGenerated"], d["tGenS"]), notes

    async def ending(self) -> Ending:
        stats = await self.server.stats()
        notes = () if stats is not None else ("fim-lsp did not answer fimLsp/stats: no token counts for it.",)
        return Ending(self.server.peak_rss(), keeps_stats=True, stats=stats, notes=notes)


def _delta(a: dict | None, b: dict | None, key: str) -> float | None:
    if not a or not b or a.get(key) is None or b.get(key) is None:
        return None
    return b[key] - a[key]


def _sum_deltas(pairs: list[StatsPair], key: str) -> float | None:
    """A counter's growth summed over (before, after) pairs; None if any read is missing."""
    ds = [_delta(a, b, key) for a, b in pairs]
    return None if any(d is None for d in ds) else sum(d for d in ds if d is not None)


class _PeerClient:
    """One llama.vscode-like client: its own suggestion cache and HTTP connection."""

    def __init__(self, client: InfillClient) -> None:
        self.infill = client
        self.completer = PeerCompleter(client)

    async def aclose(self) -> None:
        await self.infill.aclose()


class _PeerTyping(_PeerClient):
    async def replay_starts(self) -> None:
        pass

    async def replay_ended(self) -> list[InfillAnswer]:
        while self.infill._busy:  # a superseded request still running: let it end
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
        return self.infill.answers[1:]  # the first is the untimed warm-up request


class LlamaServerInfill:
    """llama-server's ``/infill`` as llama.vscode drives it: a fresh client for each replay (a
    fresh editor, an empty suggestion cache); its tokens come from each answer's ``timings``."""

    key = "peer"
    label = "llama-server"

    def __init__(self, server: LlamaServer, settings: InfillSettings, quality_states: tuple[str, ...]) -> None:
        self.server = server
        self.settings = settings
        self.quality_states = quality_states

    @classmethod
    def launch(
        cls, prefix: Path, model: Path, *, threads: int, ctx: int, out_dir: Path, extra_args: tuple[str, ...],
        settings: InfillSettings, quality_states: tuple[str, ...],
    ) -> LlamaServerInfill:
        """llama-server of the llama.cpp build at ``prefix``, its log in ``out_dir``."""
        server = LlamaServer(prefix / "bin" / "llama-server", model, threads=threads, ctx_size=ctx,
                             log_path=out_dir / "llama-server.log", extra_args=extra_args)  # fmt: skip
        return cls(server, settings, quality_states)

    @property
    def spawned_at(self) -> float:
        return self.server.spawned_at

    def meta(self) -> dict[str, Any]:
        sampling = "greedy (top_k 1)" if self.settings.greedy else "llama.vscode's (top_k 40, top_p 0.99)"
        return {"peer_argv": self.server.argv, "peer_sampling": sampling}

    async def start(self) -> float:
        return await self.server.start()

    async def stop(self) -> None:
        self.server.stop()

    async def answered_from_model(self) -> bool:
        return False  # only a suggestion ends its cold start

    def client(self) -> _PeerClient:
        return _PeerClient(InfillClient(self.server.url, self.settings, wait_for_previous=False))

    def typing_client(self, behaviour: str) -> _PeerTyping:
        # llama.vscode waits for the request in flight; llama.vim stops it.
        wait = behaviour == "every-change"
        return _PeerTyping(InfillClient(self.server.url, self.settings, wait_for_previous=wait))

    def typing_tokens(
        self, behaviour: str, usage: list[list[InfillAnswer]], n_requests: int
    ) -> tuple[TokenTotals, list[str]]:
        answers = [a for used in usage for a in used]
        tims = [a.timings for a in answers if a.timings]
        ev = sum(t.get("prompt_n", 0) for t in tims)
        reused = sum(t["cache_n"] for t in tims if "cache_n" in t) if any("cache_n" in t for t in tims) \
            else sum(a.tokens_cached or 0 for a in answers)  # fmt: skip
        gen = sum(t.get("predicted_n", 0) for t in tims)
        gen_s = sum(t.get("predicted_ms", 0) for t in tims) / 1000
        counted = "requests that ran to the end (aborted ones report nothing)"
        return TokenTotals(ev, reused, gen, gen_s, counted), []

    async def ending(self) -> Ending:
        return Ending(self.server.peak_rss())
