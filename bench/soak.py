"""Soak: minutes of typing at a fixed request rate into the real server, with the real model.

Several documents; typing in one at a time, moving to another now and then; documents closed
and opened again; settings changed through didChangeConfiguration. Reported: the share of
requests answered, latency percentiles, the backlog (how long after the last keystroke the last
answer came, and the most requests outstanding at once), and the server's RSS over time with its
least-squares slope after the first minute (the model's pages settle in that minute).

    python -m bench.soak --minutes 10          # the issue-11 run
    python -m bench.soak --minutes 2 --rate 20 --json bench/results/soak.json

Not a test: nothing here passes or fails on a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MODEL = "qwen2.5-coder-0.5b-offline"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "stats.py"
SETTINGS_ROUND: list[dict[str, Any]] = [{"typingBudgetMs": 500}, {"typingBudgetMs": 300, "multiline": "never"},
                  {"prefetch": False}, {"maxTokens": 48}, {}]


@dataclass
class Report:
    minutes: float
    rate: float
    sent: int = 0
    answered: int = 0
    errors: int = 0
    with_items: int = 0
    p50_s: float = 0.0
    p95_s: float = 0.0
    max_s: float = 0.0
    drain_s: float = 0.0  # after the last request: until the last answer
    max_outstanding: int = 0
    reopened: int = 0
    settings_changes: int = 0
    rss_mib: list[tuple[float, float]] = field(default_factory=list)  # (minute, MiB)
    rss_slope_mib_per_min: float = 0.0
    rss_slope_second_half: float = 0.0  # a step (a page of the KV cache) is not a leak: this is
    slowest: list[tuple[float, float]] = field(default_factory=list)  # (minute sent, latency s)
    alive: bool = True

    def summary(self) -> str:
        first, last = (self.rss_mib[0][1], self.rss_mib[-1][1]) if self.rss_mib else (0.0, 0.0)
        return (f"{self.minutes:g} min at {self.rate:g} req/s: {self.sent} requests, {self.answered} answered "
                f"({100 * self.answered / max(self.sent, 1):.2f}%), {self.errors} errors, {self.with_items} with a "
                f"suggestion; latency p50 {self.p50_s:.3f}s p95 {self.p95_s:.3f}s max {self.max_s:.2f}s; backlog: "
                f"last answer {self.drain_s:.2f}s after the last request, {self.max_outstanding} outstanding at most; "
                f"RSS {first:.0f} -> {last:.0f} MiB, slope {self.rss_slope_mib_per_min:+.3f} MiB/min after minute 1 "
                f"({self.rss_slope_second_half:+.3f} over the second half); "
                f"{self.reopened} reopens, {self.settings_changes} settings changes; server "
                f"{'alive' if self.alive else 'DEAD'}")


class Client:
    """A raw JSON-RPC client over the server's stdio (answers workspace/configuration)."""

    def __init__(self, proc: asyncio.subprocess.Process, settings: dict[str, Any]) -> None:
        self.proc = proc
        self.settings = settings
        self.pending: dict[int, float] = {}
        self.latencies: list[float] = []
        self.slowest: list[tuple[float, float]] = []  # (sent at, latency)
        self.errors = 0
        self.with_items = 0
        self.last_answer = 0.0
        self._ids = 0
        self._waiters: dict[int, asyncio.Future[Any]] = {}

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def request(self, method: str, params: Any) -> int:
        self._ids += 1
        self.pending[self._ids] = time.monotonic()
        self.send({"id": self._ids, "method": method, "params": params})
        return self._ids

    async def call(self, method: str, params: Any) -> Any:
        msg_id = self.request(method, params)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters[msg_id] = future
        return await asyncio.wait_for(future, 120)

    def notify(self, method: str, params: Any) -> None:
        self.send({"method": method, "params": params})

    async def read(self, on_status: asyncio.Event) -> None:
        assert self.proc.stdout is not None
        while True:
            length = 0
            while (line := await self.proc.stdout.readline()).strip():
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if not line:
                return
            message = json.loads(await self.proc.stdout.readexactly(length))
            if "method" in message and "id" in message:  # the server's request
                items = message.get("params", {}).get("items", [])
                result = [self.settings for _ in items] if message["method"] == "workspace/configuration" else None
                self.send({"id": message["id"], "result": result})
            elif "id" in message:
                self._answered(message)
            elif message.get("method") == "fimLsp/status" and message["params"]["state"] in ("ready", "error"):
                on_status.set()

    def _answered(self, message: dict[str, Any]) -> None:
        sent = self.pending.pop(message["id"], None)
        now = time.monotonic()
        if sent is not None:
            self.latencies.append(now - sent)
            self.slowest = sorted([*self.slowest, (sent, now - sent)], key=lambda p: -p[1])[:5]
            self.last_answer = now
        if "error" in message:
            self.errors += 1
        elif isinstance(message.get("result"), dict) and message["result"].get("items"):
            self.with_items += 1
        waiter = self._waiters.pop(message["id"], None)
        if waiter is not None and not waiter.done():
            waiter.set_result(message.get("result"))


@dataclass
class Doc:
    uri: str
    lines: list[str]
    version: int = 1
    line: int = 0
    col: int = 0


def _sources() -> list[str]:
    base = EXAMPLE.read_text() if EXAMPLE.is_file() else "def mean(values):\n    return sum(values) / len(values)\n"
    extra = "".join(f"def helper_{i}(x, y):\n    \"\"\"Combine x and y.\"\"\"\n    return x * {i} + y\n\n\n" for i in range(40))
    return [base, extra, base + "\n" + extra, "import os\nimport sys\n\n\n" + extra[:2000]]


TYPED = "    total = sum(value for value in values if value is not None)\n    return total / max(len(values), 1)\n"


def _open(client: Client, doc: Doc) -> None:
    client.notify("textDocument/didOpen", {"textDocument": {"uri": doc.uri, "languageId": "python",
                                                            "version": doc.version, "text": "\n".join(doc.lines)}})


def _type_one(client: Client, doc: Doc, ch: str) -> None:
    """One keystroke at the cursor: a character, or a line break."""
    doc.version += 1
    pos = {"line": doc.line, "character": doc.col}
    client.notify("textDocument/didChange", {"textDocument": {"uri": doc.uri, "version": doc.version},
                                             "contentChanges": [{"range": {"start": pos, "end": pos}, "text": ch}]})
    line = doc.lines[doc.line]
    if ch == "\n":
        doc.lines[doc.line : doc.line + 1] = [line[: doc.col], line[doc.col :]]
        doc.line, doc.col = doc.line + 1, 0
    else:
        doc.lines[doc.line] = line[: doc.col] + ch + line[doc.col :]
        doc.col += 1


def _place_cursor(doc: Doc, rng: random.Random) -> None:
    """At the end of a random line with room for typing (a fresh blank line below it)."""
    doc.line = rng.randrange(len(doc.lines))
    doc.col = len(doc.lines[doc.line])


def _rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _slope(points: list[tuple[float, float]]) -> float:
    if len(points) < 2:
        return 0.0
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


async def soak(minutes: float, rate: float, seed: int, model: str) -> Report:
    rng = random.Random(seed)
    settings: dict[str, Any] = {"model": model, "nThreads": 2}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "lsp_server", stdin=asyncio.subprocess.PIPE,
                                                stdout=asyncio.subprocess.PIPE, limit=2**24)
    client = Client(proc, settings)
    ready = asyncio.Event()
    reader = asyncio.ensure_future(client.read(ready))
    report = Report(minutes, rate)
    try:
        await client.call("initialize", {"processId": None, "rootUri": "file:///work/demo",
                                         "capabilities": {"workspace": {"configuration": True}},
                                         "initializationOptions": settings})
        client.notify("initialized", {})
        await asyncio.wait_for(ready.wait(), 300)
        started = time.monotonic()
        docs = [Doc(f"file:///work/demo/soak{i}.py", text.split("\n")) for i, text in enumerate(_sources())]
        for doc in docs:
            _open(client, doc)
            _place_cursor(doc, rng)
        await _type(client, docs, report, rng, minutes, rate)
        report.sent = client._ids - 1  # less initialize
        deadline = time.monotonic() + 60
        last_sent = time.monotonic()
        while client.pending and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        report.drain_s = max(0.0, client.last_answer - last_sent)
        report.answered = report.sent - len(client.pending)
        lat = sorted(client.latencies[1:]) or [0.0]
        report.p50_s, report.p95_s, report.max_s = lat[len(lat) // 2], lat[int(len(lat) * 0.95)], lat[-1]
        report.errors, report.with_items = client.errors, client.with_items
        report.rss_slope_mib_per_min = _slope([p for p in report.rss_mib if p[0] >= 1.0])
        report.rss_slope_second_half = _slope([p for p in report.rss_mib if p[0] >= minutes / 2])
        report.slowest = [((sent - started) / 60, latency) for sent, latency in client.slowest]
        report.alive = proc.returncode is None
        await client.call("shutdown", None)
        client.notify("exit", None)
        await asyncio.wait_for(proc.wait(), 60)
    finally:
        reader.cancel()
        if proc.returncode is None:
            proc.kill()
    return report


async def _type(client: Client, docs: list[Doc], report: Report, rng: random.Random, minutes: float, rate: float) -> None:
    assert client.proc.pid is not None
    start = time.monotonic()
    tick = 1.0 / rate
    active, typed, next_rss = 0, 0, 0.0
    next_switch, next_reopen, next_settings = 20.0, 30.0, 45.0
    while (now := time.monotonic() - start) < minutes * 60:
        if now >= next_rss:
            report.rss_mib.append((now / 60, _rss_mib(client.proc.pid)))
            next_rss += 10.0
        if now >= next_switch:  # the user moves to another file
            active = rng.randrange(len(docs))
            _place_cursor(docs[active], rng)
            next_switch += rng.uniform(10, 30)
        if now >= next_reopen:  # a file closed and opened again (as editors do with buffers)
            doc = docs[rng.randrange(len(docs))]
            client.notify("textDocument/didClose", {"textDocument": {"uri": doc.uri}})
            doc.version += 1
            _open(client, doc)
            report.reopened += 1
            next_reopen += rng.uniform(20, 40)
        if now >= next_settings:
            client.settings.update(SETTINGS_ROUND[report.settings_changes % len(SETTINGS_ROUND)])
            client.notify("workspace/didChangeConfiguration", {"settings": None})
            report.settings_changes += 1
            next_settings += 60.0
        doc = docs[active]
        ch = TYPED[typed % len(TYPED)]
        typed += 1
        _type_one(client, doc, ch)
        client.request("textDocument/inlineCompletion", {
            "textDocument": {"uri": doc.uri}, "position": {"line": doc.line, "character": doc.col},
            "context": {"triggerKind": 2}})
        report.max_outstanding = max(report.max_outstanding, len(client.pending))
        await asyncio.sleep(max(0.0, start + (typed * tick) - time.monotonic()))
    report.rss_mib.append(((time.monotonic() - start) / 60, _rss_mib(client.proc.pid)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=20.0, help="inline requests per second (one per keystroke)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--model", default=MODEL)
    parser.add_argument("--json", type=Path, help="write the report here as JSON")
    args = parser.parse_args(argv)
    report = asyncio.run(soak(args.minutes, args.rate, args.seed, args.model))
    print(report.summary())
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(asdict(report), indent=1))
    return 0 if report.alive and report.answered == report.sent else 1


if __name__ == "__main__":
    sys.exit(main())
