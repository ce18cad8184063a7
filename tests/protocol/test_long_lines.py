"""A minified line and a 5 MB file through the real server with the real model: the prompt
stays within the windows' budgets, and the answer comes in bounded time (issue 11, case 6: a
200,000-character line used to take 58 s, its whole text evaluated cold)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from raw_client import RawServer, real_server_command

pytestmark = pytest.mark.model

MODEL = "qwen2.5-coder-0.5b-offline"
SETTINGS = {"model": MODEL, "nThreads": 2, "prefixTokens": 384, "suffixTokens": 128}
TEMPLATE_TOKENS = 8  # FIM markers and BOS around the windows


@pytest.fixture(scope="module")
def server() -> Iterator[RawServer]:
    from lsp_server import models

    if models.local_path(MODEL) is None:
        pytest.skip(f"the test model is missing: fim-lsp model pull {MODEL}")
    srv = RawServer(real_server_command(), settings=SETTINGS)
    srv.initialize()
    assert srv.wait_status(timeout=180) == "ready"
    yield srv
    srv.close()


def complete_at(srv: RawServer, uri: str, text: str, line: int, character: int) -> tuple[dict[str, Any], float]:
    srv.open(uri, text)
    started = time.monotonic()
    reply = srv.response(srv.inline(uri, line, character, kind=1), timeout=300)  # a hang, not a timing
    return reply, time.monotonic() - started


def last_prompt_tokens(srv: RawServer) -> int:
    return int(srv.call("fimLsp/stats", {})["result"]["last"]["nPrompt"])


def test_the_end_of_a_200k_character_line(server: RawServer) -> None:
    line = "var a=1;" + " ".join(f"f{i}(x);" for i in range(24_000))
    assert len(line) >= 200_000
    reply, took = complete_at(server, "file:///work/demo/min.js", line + "\n", 0, len(line))
    assert "result" in reply, reply
    assert last_prompt_tokens(server) <= 384 + 128 + TEMPLATE_TOKENS
    print(f"200k-character line: first answer in {took:.2f}s")


def test_the_middle_of_a_5mb_file(server: RawServer) -> None:
    text = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(170_000))
    assert len(text) >= 5_000_000
    lines = text.count("\n")
    reply, took = complete_at(server, "file:///work/demo/big.py", text, lines // 2 + 1, 4)
    assert "result" in reply, reply
    assert last_prompt_tokens(server) <= 384 + 128 + TEMPLATE_TOKENS
    print(f"5 MB file: first answer in {took:.2f}s")
