"""The peer: llama-server's ``/infill`` driven the way llama.vscode drives it.

Request shape (llama.vscode's defaults): ``input_prefix`` = up to 256 lines above the cursor
line, ``prompt`` = the cursor line up to the cursor (empty when it is only indentation),
``input_suffix`` = the rest of the cursor line and up to 64 lines below, ``n_predict`` 128,
``top_k`` 40, ``top_p`` 0.99, samplers top_k/top_p/infill, ``cache_prompt``, ``n_indent``,
``t_max_prompt_ms`` 500, ``t_max_predict_ms`` 2500. We add a fixed ``seed`` so runs repeat;
``--peer-greedy`` asks for the single most likely token instead (``top_k`` 1).

Client-side rules reimplemented from llama.vscode's behaviour (not its code): no automatic
request when more than 8 characters follow the cursor on its line; an LRU cache of shown
suggestions, also hit when the user has typed into a cached suggestion; suggestions that are
blank or only repeat the following text are dropped; with text after the cursor, only the
first line is kept. Not emulated: the ring buffer of extra context chunks and the speculative
"future" requests after a suggestion is shown.
"""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.editor import line_at
from bench.procs import free_port, kill_group, peak_rss_bytes


@dataclass(frozen=True)
class InfillSettings:
    n_prefix: int = 256
    n_suffix: int = 64
    n_predict: int = 128
    t_max_prompt_ms: int = 500
    t_max_predict_ms: int = 2500
    max_line_suffix: int = 8
    max_cache_keys: int = 250
    seed: int = 1234
    greedy: bool = False  # top-1 instead of llama.vscode's sampling (a floor that does not vary)


@dataclass(frozen=True)
class InfillContext:
    input_prefix: str
    input_suffix: str
    prompt: str
    n_indent: int
    strip_indent: int  # leading blanks to drop from the answer (prompt was only indentation)
    line_prefix: str
    line_suffix: str
    next_lines: tuple[str, ...]  # the document lines below the cursor line (for the discard rule)
    on_last_line: bool

    @property
    def key(self) -> str:
        return self.input_prefix + "|" + self.input_suffix + "|" + self.prompt


def infill_context(text: str, offset: int, s: InfillSettings) -> InfillContext:
    lines = text.split("\n")
    row = text.count("\n", 0, offset)
    line_prefix, line_suffix = line_at(text, offset)
    prefix_lines = lines[max(0, row - s.n_prefix) : row]
    suffix_lines = lines[row + 1 : row + 1 + s.n_suffix]
    line = line_prefix + line_suffix
    prompt, strip = line_prefix, 0
    if line_prefix.strip(" \t") == "":
        prompt, strip = "", len(line_prefix)
    return InfillContext(
        input_prefix="\n".join(prefix_lines) + "\n",
        input_suffix=line_suffix + "\n" + "\n".join(suffix_lines) + "\n",
        prompt=prompt,
        n_indent=len(line) - len(line.lstrip()),
        strip_indent=strip,
        line_prefix=line_prefix,
        line_suffix=line_suffix,
        next_lines=tuple(lines[row + 1 :]),
        on_last_line=row == len(lines) - 1,
    )


def request_body(ctx: InfillContext, s: InfillSettings) -> dict:
    body = {
        "input_prefix": ctx.input_prefix,
        "input_suffix": ctx.input_suffix,
        "input_extra": [],
        "prompt": ctx.prompt,
        "n_predict": s.n_predict,
        "top_k": 40,
        "top_p": 0.99,
        "stream": False,
        "samplers": ["top_k", "top_p", "infill"],
        "cache_prompt": True,
        "t_max_prompt_ms": s.t_max_prompt_ms,
        "t_max_predict_ms": s.t_max_predict_ms,
        "seed": s.seed,
    }
    if s.greedy:
        body.update(top_k=1, samplers=["top_k"])
    if ctx.n_indent:
        body["n_indent"] = ctx.n_indent
    return body


def _drop_trailing_empty(lines: list[str]) -> list[str]:
    while lines and lines[-1] == "":
        lines = lines[:-1]
    return lines


def _repeats_following_text(lines: list[str], ctx: InfillContext) -> bool:
    if not lines or (len(lines) == 1 and not lines[0].strip()):
        return True
    if ctx.on_last_line:
        return False
    below = ctx.next_lines
    if (
        len(lines) > 1
        and lines[0].strip() in ("", ctx.line_suffix.strip())
        and list(lines[1:]) == list(below[: len(lines) - 1])
    ):
        return True
    if len(lines) == 1 and lines[0] == ctx.line_suffix:
        return True
    k = 0
    while k < len(below) and not below[k].strip():
        k += 1
    if k >= len(below):
        return False
    if ctx.line_prefix + lines[0] == below[k]:
        if len(lines) == 1:
            return True
        after = below[k + 1 :]
        if len(lines) == 2 and after and after[0].startswith(lines[1]):
            return True
        if len(lines) > 2 and list(lines[1:]) == list(after[: len(lines) - 1]):
            return True
    return False


def shown_text(content: str | None, ctx: InfillContext) -> str | None:
    """What the editor shows for a raw ``content`` (None: nothing)."""
    if content is None or not content.strip():
        return None
    lines = _drop_trailing_empty(content.replace("\r\n", "\n").split("\n"))
    if _repeats_following_text(lines, ctx):
        return None
    if ctx.line_suffix.strip():
        if lines[0].endswith(ctx.line_suffix):
            text = lines[0][: -len(ctx.line_suffix)]
        else:
            text = lines[0]
    else:
        text = "\n".join(lines)
    return text


def strip_indent(text: str, n: int) -> str:
    i = 0
    while i < len(text) and i < n and text[i] in " \t":
        i += 1
    return text[i:]


class SuggestionCache:
    """LRU of shown suggestions keyed by their context, also answering typed-through lookups."""

    def __init__(self, max_keys: int) -> None:
        self.max_keys = max_keys
        self._d: OrderedDict[str, str] = OrderedDict()

    @staticmethod
    def _h(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    def put(self, ctx: InfillContext, text: str) -> None:
        h = self._h(ctx.key)
        self._d[h] = text
        self._d.move_to_end(h)
        while len(self._d) > self.max_keys:
            self._d.popitem(last=False)

    def get(self, ctx: InfillContext) -> str | None:
        p = ctx.prompt
        for i in range(len(p), -1, -1):
            h = self._h(ctx.input_prefix + "|" + ctx.input_suffix + "|" + p[:i])
            hit = self._d.get(h)
            if hit is None:
                continue
            typed = p[i:]
            if hit.startswith(typed):
                self._d.move_to_end(h)
                return hit[len(typed) :]
        return None


@dataclass
class InfillAnswer:
    text: str | None  # shown suggestion, None for nothing
    from_cache: bool
    timings: dict = field(default_factory=dict)  # llama-server's per-request timings
    tokens_cached: int | None = None
    tokens_evaluated: int | None = None


class LlamaServer:
    """A llama-server process on 127.0.0.1."""

    def __init__(
        self,
        binary: Path,
        model: Path,
        *,
        threads: int,
        ctx_size: int,
        log_path: Path,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.port = free_port()
        self.argv = [
            str(binary), "-m", str(model), "-t", str(threads), "-tb", str(threads),
            "--host", "127.0.0.1", "--port", str(self.port), "-c", str(ctx_size), "-np", "1",
            "--cache-reuse", "256", "--no-webui", *extra_args,
        ]  # fmt: skip
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.spawned_at = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, timeout_s: float = 600) -> float:
        """Spawn and wait for /health; returns seconds from spawn to healthy."""
        self.spawned_at = time.monotonic()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        async with httpx.AsyncClient(timeout=2.0, trust_env=False) as http:
            while time.monotonic() - self.spawned_at < timeout_s:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"llama-server exited with {self.proc.returncode}; see {self.log_path}"
                    )
                try:
                    r = await http.get(self.url + "/health")
                    if r.status_code == 200:
                        return time.monotonic() - self.spawned_at
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise TimeoutError("llama-server did not become healthy")

    def peak_rss(self) -> int | None:
        return peak_rss_bytes(self.proc.pid) if self.proc else None

    def stop(self) -> None:
        kill_group(self.proc)
        self.proc = None


class InfillClient:
    """The llama.vscode side: builds requests, keeps its suggestion cache, filters answers.

    ``wait_for_previous``: llama.vscode does not abort a request in flight; a newer one polls
    every 150 ms until the old one is done (and gives up if it is itself superseded). With
    False, cancelling the awaiting task closes the HTTP connection (llama.vim's jobstop).
    """

    def __init__(self, url: str, settings: InfillSettings, *, wait_for_previous: bool) -> None:
        self.url = url
        self.s = settings
        self.wait_for_previous = wait_for_previous
        self.cache = SuggestionCache(settings.max_cache_keys)
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(600.0), trust_env=False)
        self._busy = False
        self.answers: list[InfillAnswer] = []

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _post(self, body: dict) -> dict:
        r = await self.http.post(self.url + "/infill", json=body)
        r.raise_for_status()
        return r.json()

    async def complete(self, text: str, offset: int, automatic: bool = True) -> InfillAnswer:
        ctx = infill_context(text, offset, self.s)
        if automatic and len(ctx.line_suffix) > self.s.max_line_suffix:
            return InfillAnswer(None, False)
        cached = self.cache.get(ctx)
        if cached is not None:
            shown = strip_indent(cached, ctx.strip_indent) if cached.strip() else None
            return InfillAnswer(shown, True)
        if self.wait_for_previous:
            while self._busy:
                await asyncio.sleep(0.15)
            self._busy = True
            task = asyncio.ensure_future(self._fetch(ctx))

            def _done(_t: asyncio.Future) -> None:
                self._busy = False

            task.add_done_callback(_done)
            # A superseded request still runs to its end and fills the cache, as in llama.vscode.
            return await asyncio.shield(task)
        return await self._fetch(ctx)

    async def _fetch(self, ctx: InfillContext) -> InfillAnswer:
        data = await self._post(request_body(ctx, self.s))
        shown = shown_text(data.get("content"), ctx)
        if shown is not None:
            self.cache.put(ctx, shown)
            shown = strip_indent(shown, ctx.strip_indent) or None
        ans = InfillAnswer(
            shown,
            False,
            timings=dict(data.get("timings") or {}),
            tokens_cached=data.get("tokens_cached"),
            tokens_evaluated=data.get("tokens_evaluated"),
        )
        self.answers.append(ans)
        return ans
