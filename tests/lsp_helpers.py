"""Raw JSON-RPC helpers for tests that send what a typed client refuses to build."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import Future

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
