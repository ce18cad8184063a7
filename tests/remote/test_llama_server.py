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


def _wait_idle(server: LlamaServer, timeout_s: float = 120.0) -> None:
    """Until no slot is processing. The bound only guards a hang: the tests that need the server
    to stop early check how many tokens it decoded, not how soon it went idle."""
    start = time.monotonic()
    while _busy_slots(server):
        assert time.monotonic() - start < timeout_s, "llama-server still generating"
        time.sleep(0.02)


def _tokens_predicted(server: LlamaServer) -> int:
    """llama-server's count of tokens generated so far (``--metrics``), over all requests."""
    text = httpx.get(f"{server.url}/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith("llamacpp:tokens_predicted_total "):
            return int(float(line.split()[1]))
    raise AssertionError(f"no llamacpp:tokens_predicted_total in /metrics:\n{text}")


def _generated_by(
    server: LlamaServer, run: Callable[[], GenerationResult]
) -> tuple[GenerationResult, int]:
    """``run()``'s result, and how many tokens the server generated for it before it let go.

    The tests run one request at a time, and a slot adds its tokens to the count when it is
    released: so the count's growth from idle to idle is what this request cost the server.
    """
    _wait_idle(server)
    before = _tokens_predicted(server)
    result = run()
    _wait_idle(server)
    return result, _tokens_predicted(server) - before


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
    """A cancel mid-stream closes the connection, and llama-server stops generating.

    Without it the server would run on to the 600 tokens asked for (this prompt goes on for
    hundreds). No wall-clock bound: the server's own count of generated tokens says it stopped.
    """
    engine = LlamaServerEngine(_server_settings(llama_server))
    engine.load(lambda *_: None)
    cancel = CancelToken()

    def cancel_after_two_lines(text: str) -> bool:
        if text.count("\n") >= 2 and not cancel.cancelled:
            threading.Thread(target=cancel.cancel).start()  # from another thread, as the LSP does
        return False

    job = GenerationJob(prompt=LONG, max_tokens=600, should_stop=cancel_after_two_lines)
    result, generated = _generated_by(llama_server, lambda: engine.generate(job, cancel))
    assert result.stop_reason == "cancelled"
    assert result.text.count("\n") >= 2, "cancelled before the stream started"
    # The server noticed the closed stream and freed the slot, long before 600 tokens: it would
    # take a stall of many seconds between the cancel and the hang-up to generate 300.
    assert result.n_generated <= generated < 300, (result.n_generated, generated)
    engine.close()


def _once_logged(server: LlamaServer, text: str, action: Callable[[], None]) -> None:
    """Run ``action`` in another thread as soon as llama-server logs ``text`` from now on."""
    start = server.log_path.stat().st_size

    def run() -> None:
        until = time.monotonic() + 60  # only guards a request that never comes
        while time.monotonic() < until:
            with open(server.log_path, "rb") as log:
                log.seek(start)
                if text.encode() in log.read():
                    break
            time.sleep(0.005)
        action()

    threading.Thread(target=run, daemon=True).start()


def test_cancel_during_prompt_processing(llama_server: LlamaServer) -> None:
    """llama-server sends no headers before the first token: the cancel must still reach it.

    The cancel comes as soon as the server logs that it took the task, while it evaluates the
    ~300-token prompt (seconds on a 2-core machine). Evidence without a clock: the client returns
    with no text at all (had it waited for the first token, it would have that token), and the
    server dropped the task within a few tokens instead of generating hundreds.
    """
    engine = LlamaServerEngine(_server_settings(llama_server))
    engine.load(lambda *_: None)
    body = "".join(f"def helper_{i}(x):\n    return x * {i} + {i * 7}\n\n" for i in range(15))
    prompt = Prompt(prefix=f"# {uuid.uuid4()}\n{body}def main():\n", middle="    ", suffix="\n")
    cancel = CancelToken()

    def run() -> GenerationResult:
        _once_logged(llama_server, "processing task", cancel.cancel)
        return engine.generate(GenerationJob(prompt=prompt, max_tokens=600), cancel)

    result, generated = _generated_by(llama_server, run)
    assert (result.text, result.stop_reason) == ("", "cancelled")
    # The slot finishes its prompt batch, then notices the closed connection when it has the
    # first token or two to send, and drops the task (uncancelled: hundreds of tokens, up to 600).
    assert generated < 32, generated
    engine.close()


def test_time_budget_and_should_stop(llama_server: LlamaServer) -> None:
    """A time budget and a should_stop each end a request the model would carry on for 600
    tokens (this prompt goes on for hundreds).

    Evidence without a clock bound: the stop reason, and the server's own count of generated
    tokens, short of the 600 asked for. A busy CPU only makes that count smaller.
    """
    engine = LlamaServerEngine(_server_settings(llama_server))
    engine.load(lambda *_: None)
    # The time budget starts with the first text: there is text, however slow the prompt was.
    budget, generated = _generated_by(
        llama_server,
        lambda: engine.generate(
            GenerationJob(prompt=LONG, max_tokens=600, time_budget_s=1.0), CancelToken()
        ),
    )
    assert budget.stop_reason == "deadline" and budget.text
    assert budget.n_generated <= generated < 600, (budget.n_generated, generated)
    cut, generated = _generated_by(
        llama_server,
        lambda: engine.generate(
            GenerationJob(
                prompt=LONG, max_tokens=600, should_stop=lambda text: text.count("\n") >= 2
            ),
            CancelToken(),
        ),
    )
    assert cut.stop_reason == "stop" and cut.text.count("\n") == 2, cut.text
    assert generated < 300, generated  # the server stopped when we hung up
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
            lambda: engine.generate(GenerationJob(prompt=FIB, max_tokens=8), CancelToken()).text, 60
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
