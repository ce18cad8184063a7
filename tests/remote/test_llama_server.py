"""The remote engines against a real llama-server (built by scripts/build-llama.sh) on 127.0.0.1."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from llama_server_proc import SLOTS, LlamaServer

from lsp_server.config import EngineSettings
from lsp_server.context.templates import QWEN
from lsp_server.context.types import ExtraChunk, Prompt
from lsp_server.doctor import check
from lsp_server.engine.base import CancelToken, EngineError, GenerationJob, GenerationResult
from lsp_server.engine.remote.gate import ProblemGate
from lsp_server.engine.remote.llama_server import LlamaServerEngine
from lsp_server.engine.remote.openai_compat import OpenAIEngine

FIB = Prompt(
    prefix='def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n    ',
    middle="",
    suffix="\n\n\nprint(fibonacci(10))\n",
    path="fib.py",
)
# A prompt the model happily continues for hundreds of tokens.
LONG = Prompt(
    prefix="# The first 300 prime numbers, one per line.\nPRIMES = [\n    2,\n    3,\n    5,\n    7,\n",
    middle="    ",
    suffix="]\n",
    path="primes.py",
)


def _server_settings(server: LlamaServer, **values: object) -> EngineSettings:
    return EngineSettings(backend="llama-server", url=server.url, **values)  # type: ignore[arg-type]


def _slots(server: LlamaServer) -> list[dict[str, Any]]:
    return list(httpx.get(f"{server.url}/slots", timeout=5).json())


def _busy_slots(server: LlamaServer) -> int:
    return sum(1 for slot in _slots(server) if slot.get("is_processing"))


def _wait_idle(server: LlamaServer, timeout_s: float) -> float:
    """Seconds until no slot is processing; fails after ``timeout_s``."""
    start = time.monotonic()
    while _busy_slots(server):
        assert time.monotonic() - start < timeout_s, "llama-server still generating"
        time.sleep(0.02)
    return time.monotonic() - start


def test_infill_completes_a_function_body(llama_server: LlamaServer) -> None:
    engine = LlamaServerEngine(_server_settings(llama_server))
    info = engine.load(lambda *_: None)
    assert info.details["route"] == "/infill"
    assert info.capabilities.server_side_fim and not info.capabilities.local
    assert info.details["slots"] == str(SLOTS)
    assert info.fim_format == "qwen"
    assert "qwen2.5-coder" in info.model

    prompt = Prompt(
        FIB.prefix, FIB.suffix, FIB.middle, FIB.path, extra=(ExtraChunk("util.py", "CACHE = {}\n"),)
    )
    job = GenerationJob(prompt=prompt, max_tokens=12, session="file:///fib.py")
    first = engine.generate(job, CancelToken())
    assert "return" in first.text or "if n" in first.text, first.text
    assert first.stop_reason in ("eos", "max_tokens")
    assert first.n_prompt > 20 and first.n_generated > 0

    again = engine.generate(job, CancelToken())
    assert again.text == first.text  # greedy
    assert again.n_reused >= first.n_prompt - 1  # same slot, prompt served from its KV cache
    engine.close()


def test_completion_route_renders_our_template(llama_server: LlamaServer) -> None:
    engine = LlamaServerEngine(_server_settings(llama_server, fim_template="qwen"))
    info = engine.load(lambda *_: None)
    assert info.details["route"] == "/completion" and not info.capabilities.server_side_fim
    route, body = engine.request_body(GenerationJob(prompt=FIB, max_tokens=12))
    assert route == "/completion"
    assert body["prompt"] == QWEN.render_text(FIB)
    assert body["prompt"].endswith("<|fim_suffix|>\n\n\nprint(fibonacci(10))\n<|fim_middle|>")
    result = engine.generate(GenerationJob(prompt=FIB, max_tokens=12), CancelToken())
    assert "return" in result.text or "if n" in result.text, result.text
    assert result.n_prompt > 20
    engine.close()


def test_openai_route_on_llama_server(llama_server: LlamaServer) -> None:
    engine = OpenAIEngine(EngineSettings(backend="openai", url=llama_server.url))
    info = engine.load(lambda *_: None)
    assert info.fim_format == "qwen"  # guessed from the served model's name
    result = engine.generate(GenerationJob(prompt=FIB, max_tokens=12), CancelToken())
    assert "return" in result.text or "if n" in result.text, result.text
    assert result.stop_reason in ("eos", "max_tokens")
    assert result.n_prompt > 20 and result.n_generated > 0
    engine.close()


def test_cancel_mid_stream_stops_the_server(llama_server: LlamaServer) -> None:
    engine = LlamaServerEngine(_server_settings(llama_server))
    engine.load(lambda *_: None)
    cancel = CancelToken()
    seen: dict[str, float] = {}

    def cancel_soon() -> None:
        seen["cancelled_at"] = time.monotonic()
        cancel.cancel()

    def watch(text: str) -> bool:
        if "busy" not in seen:
            seen["busy"] = _busy_slots(llama_server)
            threading.Timer(0.3, cancel_soon).start()
        return False

    result = engine.generate(GenerationJob(prompt=LONG, max_tokens=600, should_stop=watch), cancel)
    returned_at = time.monotonic()
    assert result.stop_reason == "cancelled"
    assert seen["busy"] >= 1 and result.text, "cancelled before the stream started"
    assert returned_at - seen["cancelled_at"] < 0.5
    # The server noticed the closed stream and freed the slot, long before 600 tokens.
    assert _wait_idle(llama_server, timeout_s=2.0) < 2.0
    engine.close()


def test_cancel_during_prompt_processing(llama_server: LlamaServer) -> None:
    """llama-server sends no headers before the first token: the cancel must still reach it."""
    engine = LlamaServerEngine(_server_settings(llama_server))
    engine.load(lambda *_: None)
    _wait_idle(llama_server, timeout_s=30)
    body = "".join(f"def helper_{i}(x):\n    return x * {i} + {i * 7}\n\n" for i in range(15))
    prompt = Prompt(prefix=f"# {uuid.uuid4()}\n{body}def main():\n", middle="    ", suffix="\n")
    cancel = CancelToken()
    threading.Timer(0.15, cancel.cancel).start()
    started = time.monotonic()
    result = engine.generate(GenerationJob(prompt=prompt, max_tokens=600), cancel)
    assert (result.text, result.stop_reason) == ("", "cancelled")
    assert time.monotonic() - started < 0.6
    busy = [s["id"] for s in _slots(llama_server) if s.get("is_processing")]
    assert busy, "the ~300-token prompt should still be in prompt processing"
    # The slot finishes its current prompt batch, then drops the task: no tokens generated.
    _wait_idle(llama_server, timeout_s=30)
    decoded = {
        s["id"]: s["next_token"][0]["n_decoded"] for s in _slots(llama_server) if s["id"] in busy
    }
    assert all(n <= 1 for n in decoded.values()), decoded
    engine.close()


def test_deadline_and_should_stop(llama_server: LlamaServer) -> None:
    engine = LlamaServerEngine(_server_settings(llama_server))
    engine.load(lambda *_: None)
    started = time.monotonic()
    timed = engine.generate(
        GenerationJob(prompt=LONG, max_tokens=600, deadline=started + 0.8), CancelToken()
    )
    assert timed.stop_reason == "deadline" and timed.text
    assert time.monotonic() - started < 1.5
    cut = engine.generate(
        GenerationJob(prompt=LONG, max_tokens=600, should_stop=lambda text: text.count("\n") >= 2),
        CancelToken(),
    )
    assert cut.stop_reason == "stop" and cut.text.count("\n") == 2, cut.text
    _wait_idle(llama_server, timeout_s=1.0)
    engine.close()


def test_several_clients_share_one_server(llama_server: LlamaServer) -> None:
    """Four editors at once: each gets its completion, served by several slots concurrently."""
    engines = [LlamaServerEngine(_server_settings(llama_server)) for _ in range(SLOTS)]
    for engine in engines:
        engine.load(lambda *_: None)
    names = ["fibonacci", "factorial", "gcd", "is_prime"]
    barrier = threading.Barrier(len(engines) + 1)
    results: dict[int, GenerationResult] = {}
    peak = 0
    stop_sampling = threading.Event()

    def client(i: int) -> None:
        prompt = Prompt(
            prefix=f"def {names[i]}(n):\n", middle="    ", suffix="\n", path=f"{names[i]}.py"
        )
        barrier.wait()
        results[i] = engines[i].generate(GenerationJob(prompt=prompt, max_tokens=8), CancelToken())

    def sample() -> None:
        nonlocal peak
        while not stop_sampling.is_set():
            peak = max(peak, _busy_slots(llama_server))
            time.sleep(0.01)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(engines))]
    sampler = threading.Thread(target=sample)
    for t in threads:
        t.start()
    sampler.start()
    barrier.wait()
    for t in threads:
        t.join(timeout=300)  # minutes only on a machine busy with other work
    stop_sampling.set()
    sampler.join()
    assert sorted(results) == [0, 1, 2, 3]
    assert all(
        r.text.strip() and r.stop_reason in ("eos", "max_tokens") for r in results.values()
    ), results
    assert peak >= 2, "llama-server never ran two requests at once"
    for engine in engines:
        engine.close()


def test_killed_engine_one_error_then_recovery(
    private_llama_server: LlamaServer, caplog: pytest.LogCaptureFixture
) -> None:
    server = private_llama_server.start()
    engine = LlamaServerEngine(_server_settings(server))
    engine.gate = ProblemGate("test llama-server", first_probe_s=0.1, max_probe_s=0.5)
    engine.load(lambda *_: None)
    streaming = threading.Event()

    def kill_once_streaming(text: str) -> bool:
        if not streaming.is_set():
            streaming.set()
            server.kill()
        return False

    with pytest.raises(EngineError, match="dropped the connection"):
        engine.generate(
            GenerationJob(prompt=LONG, max_tokens=600, should_stop=kill_once_streaming),
            CancelToken(),
        )
    assert streaming.is_set()
    quiet = [
        engine.generate(GenerationJob(prompt=FIB, max_tokens=8), CancelToken()) for _ in range(10)
    ]
    assert {(r.text, r.stop_reason) for r in quiet} == {("", "error")}

    server.start()
    with caplog.at_level(logging.INFO, logger="lsp_server.engine.remote.gate"):
        text = _until(
            lambda: engine.generate(GenerationJob(prompt=FIB, max_tokens=8), CancelToken()).text, 20
        )
    assert text
    assert "working again" in caplog.text
    engine.close()


def test_doctor_rows(llama_server: LlamaServer) -> None:
    rows = dict(check(_server_settings(llama_server)))
    assert rows["connection"] == "OK"
    assert "qwen2.5-coder" in rows["model"]
    assert rows["FIM"] == "server-side (/infill), model tokens: qwen"
    assert rows["slots"] == str(SLOTS)
    assert rows["test completion"].startswith("OK in ")


def _until(produce: Callable[[], str], timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = produce()
        if text:
            return text
        time.sleep(0.1)
    raise AssertionError("no completion before the timeout")
