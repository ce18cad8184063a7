"""Ollama's request/response mapping, against recorded responses (Ollama can't be installed here)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from replay import ReplayServer, Reply, recorded

from lsp_server.config import EngineSettings
from lsp_server.context.templates import QWEN, STARCODER
from lsp_server.context.types import ExtraChunk, Prompt
from lsp_server.engine.base import CancelToken, EngineError, GenerationJob
from lsp_server.engine.remote.ollama import OllamaEngine

PROMPT = Prompt(
    prefix="def add(a, b):\n", suffix="\n\nprint(add(1, 2))\n", middle="    ", path="calc.py"
)


def ollama(
    show: str, generate: str = "ollama/generate_stop.ndjson", **replies: Reply
) -> ReplayServer:
    routes = {
        ("GET", "/api/version"): recorded("ollama/version.json"),
        ("GET", "/api/tags"): recorded("ollama/tags_one.json"),
        ("POST", "/api/show"): recorded(show),
        ("POST", "/api/generate"): recorded(generate),
    }
    routes.update(
        {("POST", "/" + path.replace("_", "/")): reply for path, reply in replies.items()}
    )
    return ReplayServer(routes).start()


@pytest.fixture
def qwen_server() -> Iterator[ReplayServer]:
    server = ollama("ollama/show_qwen_coder.json")
    yield server
    server.stop()


def engine_for(server: ReplayServer, **settings: object) -> OllamaEngine:
    values: dict[str, object] = {
        "backend": "ollama",
        "url": server.url,
        "remote_model": "qwen2.5-coder:1.5b-base",
    }
    values.update(settings)
    return OllamaEngine(EngineSettings(**values))  # type: ignore[arg-type]


def test_raw_mode_request_and_response(qwen_server: ReplayServer) -> None:
    engine = engine_for(qwen_server)
    info = engine.load(lambda *_: None)
    assert (info.model, info.fim_format, info.capabilities.server_side_fim) == (
        "qwen2.5-coder:1.5b-base",
        "qwen",
        False,
    )
    assert info.details["ollama version"] == "0.12.3"
    assert qwen_server.last("/api/show").body == {"model": "qwen2.5-coder:1.5b-base"}

    prompt = Prompt(
        PROMPT.prefix,
        PROMPT.suffix,
        PROMPT.middle,
        PROMPT.path,
        extra=(ExtraChunk("util.py", "X = 1"),),
    )
    result = engine.generate(GenerationJob(prompt=prompt, max_tokens=24), CancelToken())

    body = qwen_server.last("/api/generate").body
    assert body["raw"] is True and body["stream"] is True and "suffix" not in body
    assert body["model"] == "qwen2.5-coder:1.5b-base"
    assert body["prompt"] == QWEN.render_text(prompt)
    assert "util.py\nX = 1\n" in body["prompt"]  # the other file, as repository context
    assert body["prompt"].endswith(
        "<|fim_prefix|>def add(a, b):\n<|fim_suffix|>\n\nprint(add(1, 2))\n<|fim_middle|>    "
    )
    assert body["options"]["num_predict"] == 24
    assert body["options"]["temperature"] == 0.0
    assert "<|endoftext|>" in body["options"]["stop"]
    assert result.text == "return a + b"
    assert (result.stop_reason, result.n_prompt, result.n_generated) == ("eos", 23, 5)
    assert result.t_prompt_s == pytest.approx(0.087)
    assert result.t_gen_s == pytest.approx(0.075)
    engine.close()


def test_done_reason_length_maps_to_max_tokens() -> None:
    server = ollama("ollama/show_qwen_coder.json", "ollama/generate_length.ndjson")
    try:
        engine = engine_for(server)
        result = engine.generate(GenerationJob(prompt=PROMPT, max_tokens=4), CancelToken())
        assert (result.text, result.stop_reason) == ("for i in range(", "max_tokens")
        # generate() without load() connects lazily.
        assert [r.path for r in server.requests][:2] == ["/api/version", "/api/show"]
    finally:
        server.stop()


def test_suffix_mode_for_an_unknown_model_that_can_insert() -> None:
    server = ollama("ollama/show_insert_only.json")
    try:
        engine = engine_for(server, remote_model="house-coder:7b")
        info = engine.load(lambda *_: None)
        assert info.capabilities.server_side_fim and info.fim_format == "ollama-suffix"
        engine.generate(GenerationJob(prompt=PROMPT, max_tokens=8), CancelToken())
        body = server.last("/api/generate").body
        assert body["prompt"] == "def add(a, b):\n    "
        assert body["suffix"] == "\n\nprint(add(1, 2))\n"
        assert "raw" not in body and "stop" not in body["options"]
    finally:
        server.stop()


def test_named_template_overrides_the_guess(qwen_server: ReplayServer) -> None:
    engine = engine_for(qwen_server, fim_template="starcoder")
    assert engine.load(lambda *_: None).fim_format == "starcoder"
    engine.generate(GenerationJob(prompt=PROMPT, max_tokens=8), CancelToken())
    sent = qwen_server.last("/api/generate").body["prompt"]
    assert sent == STARCODER.render_text(PROMPT)
    assert "<fim_prefix>def add(a, b):\n<fim_suffix>" in sent


def test_chat_model_without_fim_is_a_clear_error() -> None:
    server = ollama("ollama/show_chat_only.json")
    try:
        with pytest.raises(EngineError, match="cannot tell the FIM format") as err:
            engine_for(server, remote_model="llama3.2:3b").load(lambda *_: None)
        assert "fimTemplate" in err.value.hint
    finally:
        server.stop()


def test_missing_model_says_how_to_pull_it() -> None:
    server = ollama("ollama/show_qwen_coder.json", api_show=recorded("ollama/not_found.json", 404))
    try:
        with pytest.raises(EngineError, match="no model 'qwen2.5-coder:7b'") as err:
            engine_for(server, remote_model="qwen2.5-coder:7b").load(lambda *_: None)
        assert err.value.hint == "Run `ollama pull qwen2.5-coder:7b`."
    finally:
        server.stop()


def test_empty_remote_model_uses_the_only_pulled_model(qwen_server: ReplayServer) -> None:
    info = engine_for(qwen_server, remote_model="").load(lambda *_: None)
    assert info.model == "qwen2.5-coder:1.5b-base"


def test_error_mid_stream_is_reported_once_then_quiet() -> None:
    server = ollama("ollama/show_qwen_coder.json", "ollama/generate_error.ndjson")
    try:
        engine = engine_for(server)
        with pytest.raises(EngineError, match="unexpected EOF"):
            engine.generate(GenerationJob(prompt=PROMPT), CancelToken())
        again = engine.generate(GenerationJob(prompt=PROMPT), CancelToken())
        assert (again.text, again.stop_reason) == ("", "error")
    finally:
        server.stop()


def test_cancel_closes_the_stream() -> None:
    """A cancel mid-stream stops reading and closes the connection: the server sees it go.

    The cancel comes from another thread once three lines are in; the 200 lines would take 10 s
    to stream. No wall-clock bound: the server's log says how far it got before the hang-up.
    """
    server = ollama("ollama/show_qwen_coder.json", "ollama/generate_long.ndjson")
    server.routes[("POST", "/api/generate")].delay_s = 0.05
    try:
        engine = engine_for(server)
        engine.load(lambda *_: None)
        cancel = CancelToken()

        def cancel_after_three_lines(text: str) -> bool:
            if text.count("\n") == 3:
                threading.Thread(target=cancel.cancel).start()
            return False

        job = GenerationJob(prompt=PROMPT, max_tokens=800, should_stop=cancel_after_three_lines)
        result = engine.generate(job, cancel)
        assert result.stop_reason == "cancelled"
        stream = server.last_stream("/api/generate").wait_ended()
        assert stream.hung_up and stream.sent < stream.lines, stream
        assert 3 <= result.text.count("\n") < stream.lines - 1, result.text
        assert server.disconnects == 1
    finally:
        server.stop()


def test_should_stop_ends_the_request(qwen_server: ReplayServer) -> None:
    qwen_server.routes[("POST", "/api/generate")] = recorded(
        "ollama/generate_long.ndjson", delay_s=0.01
    )
    engine = engine_for(qwen_server)
    job = GenerationJob(
        prompt=PROMPT, max_tokens=800, should_stop=lambda text: text.count("\n") >= 2
    )
    result = engine.generate(job, CancelToken())
    assert (result.text, result.stop_reason) == ("    x0 = 0\n    x1 = 1\n", "stop")
    _wait_for(lambda: qwen_server.disconnects == 1)


def _wait_for(condition: object, timeout_s: float = 30.0) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)
