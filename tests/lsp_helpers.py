"""Raw JSON-RPC helpers for tests that send what a typed client refuses to build."""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import Future
from typing import IO, Any

from lsprotocol import types
from pytest_lsp import LanguageClient


async def write_raw(client: LanguageClient, body: bytes) -> None:
    assert client._server is not None and client._server.stdin is not None
    client._server.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    await client._server.stdin.drain()


async def send_raw(client: LanguageClient, message: dict[str, object]) -> object:
    """Send a request the typed client would refuse to build, and await its response."""
    future: Future[object] = Future()
    client.protocol._request_futures[str(message["id"])] = future
    await write_raw(client, json.dumps(message).encode())
    return await asyncio.wait_for(asyncio.wrap_future(future), timeout=30)


def plain(value: Any) -> Any:
    """A raw response (pygls gives named tuples for JSON objects) as plain dicts and lists."""
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def record_statuses(client: LanguageClient) -> None:
    """Keep the server's fimLsp/status notifications on ``client.statuses``."""
    statuses: list[dict[str, Any]] = []
    client.statuses = statuses  # type: ignore[attr-defined]

    @client.feature("fimLsp/status")
    def _status(params: Any) -> None:
        statuses.append({k: getattr(params, k, None) for k in ("state", "message", "model")})


async def wait_state(client: LanguageClient, timeout: float = 120) -> dict[str, Any]:
    """The first "ready" or "error" status the server reports (the model loaded, or failed)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for status in reversed(client.statuses):  # type: ignore[attr-defined]
            if status["state"] in ("ready", "error"):
                return status
        await asyncio.sleep(0.05)
    raise TimeoutError("the server never reported ready or error")


async def invoked_run(client: LanguageClient, uri: str, position: types.Position) -> dict[str, Any]:
    """Ask an Invoked inline completion at ``position``; the server's counts of its last model
    run (``fimLsp/stats`` ``last``: nPrompt, nReused, ...)."""
    await client.text_document_inline_completion_async(types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri), position=position,
        context=types.InlineCompletionContext(types.InlineCompletionTriggerKind.Invoked)))  # fmt: skip
    stats = plain(await client.protocol.send_request_async("fimLsp/stats", None))
    return dict(stats["last"])


def send_frame(stdin: IO[bytes], message: dict[str, Any]) -> None:
    """One JSON-RPC message to a server's stdin, framed by hand (no client library between)."""
    body = json.dumps({"jsonrpc": "2.0", **message}).encode()
    stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    stdin.flush()


def receive_frame(stdout: IO[bytes]) -> dict[str, Any]:
    """The next message from a server's stdout."""
    length = 0
    while (line := stdout.readline().strip()) != b"":
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return json.loads(stdout.read(length))
