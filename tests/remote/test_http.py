"""The shared HTTP plumbing: stream formats, template choice, one error per outage, API keys."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from replay import ReplayServer, Reply, recorded

from lsp_server.config import EngineSettings
from lsp_server.context.templates import ModelHints
from lsp_server.context.types import Prompt
from lsp_server.doctor import check
from lsp_server.engine.base import CancelToken, EngineError, GenerationJob
from lsp_server.engine.remote import gate as gate_module
from lsp_server.engine.remote.base import resolve_template
from lsp_server.engine.remote.gate import ProblemGate
from lsp_server.engine.remote.ollama import OllamaEngine
from lsp_server.engine.remote.openai_compat import OpenAIEngine
from lsp_server.engine.remote.stream import ndjson_events, sse_events
from lsp_server.engine.remote.transport import EngineDown

PROMPT = Prompt(prefix="def add(a, b):\n    ", suffix="\n")


def test_sse_events_skip_comments_and_stop_at_done() -> None:
    lines = iter(
        [
            ": ping",
            "",
            'data: {"a": 1}',
            "",
            "event: x",
            'error: {"message": "boom"}',
            "data: [DONE]",
            'data: {"b": 2}',
        ]
    )
    assert list(sse_events(lines)) == [{"a": 1}, {"error": {"message": "boom"}}]


def test_ndjson_events() -> None:
    assert list(ndjson_events(iter(['{"a": 1}', "", '{"b": 2}']))) == [{"a": 1}, {"b": 2}]


def test_bad_stream_line_is_an_engine_error() -> None:
    with pytest.raises(EngineError, match="not JSON"):
        list(sse_events(iter(["data: {nope"])))


def test_resolve_template_prefers_the_setting_and_explains_unknowns() -> None:
    qwen = ModelHints(name="Qwen2.5-Coder")
    assert resolve_template("deepseek", qwen).name == "deepseek"
    with pytest.raises(EngineError, match="unknown FIM template 'nope'") as bad:
        resolve_template("nope", qwen)
    assert bad.value.hint == "Fix the fimTemplate setting."
    with pytest.raises(
        EngineError, match="cannot tell the FIM prompt format of model 'llama3'"
    ) as err:
        resolve_template("auto", ModelHints(name="llama3"))
    assert "qwen" in err.value.hint


class _Clock:
    """A clock the test moves by hand, in place of the gate's ``time`` module."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


def test_gate_reports_an_outage_once_and_logs_recovery(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = _Clock()  # no sleeps, and a busy CPU cannot let the probe interval pass unseen
    monkeypatch.setattr(gate_module, "time", clock)
    gate = ProblemGate("engine", first_probe_s=0.05, max_probe_s=0.05)
    with pytest.raises(EngineDown):
        gate.failed(EngineDown("refused"))
    assert not gate.may_try()  # no connect attempt per keystroke
    clock.now += 0.04
    assert not gate.may_try()
    clock.now += 0.02
    assert gate.may_try()
    gate.failed(EngineDown("dropped the connection"))  # another symptom, same outage: quiet
    with caplog.at_level(logging.INFO, logger="lsp_server.engine.remote.gate"):
        gate.succeeded()
    assert "working again" in caplog.text
    with pytest.raises(EngineDown):
        gate.failed(EngineDown("refused"))  # a new outage is news again


def _openai_routes() -> dict[tuple[str, str], Reply]:
    return {
        ("GET", "/v1/models"): recorded("openai/models.json"),
        ("POST", "/v1/completions"): recorded("openai/completions.sse"),
    }


def test_openai_mapping_and_api_key_never_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "sk-test-0123456789abcdef"
    monkeypatch.setenv("TEAM_FIM_KEY", secret)
    server = ReplayServer(_openai_routes()).start()
    try:
        settings = EngineSettings(backend="openai", url=server.url + "/v1", api_key_env="TEAM_FIM_KEY")
        with caplog.at_level(logging.DEBUG):
            engine = OpenAIEngine(settings)
            info = engine.load(lambda *_: None)
            result = engine.generate(GenerationJob(prompt=PROMPT, max_tokens=4), CancelToken())
            rows = check(settings)
        assert (info.model, info.fim_format) == ("Qwen/Qwen2.5-Coder-1.5B", "qwen")
        request = server.last("/v1/completions")
        assert request.headers["Authorization"] == f"Bearer {secret}"
        assert (
            request.body["prompt"]
            == "<|fim_prefix|>def add(a, b):\n    <|fim_suffix|>\n<|fim_middle|>"
        )
        assert request.body["stream"] is True and request.body["max_tokens"] == 4
        assert request.body["stream_options"] == {"include_usage": True}
        assert "<|endoftext|>" in request.body["stop"]
        assert (result.text, result.stop_reason) == ("return a + b", "max_tokens")
        assert (result.n_prompt, result.n_reused, result.n_generated) == (41, 32, 4)
        assert ("API key", "$TEAM_FIM_KEY set") in rows
        assert ("connection", "OK") in rows
        assert secret not in caplog.text
        assert all(secret not in value for _, value in rows)
    finally:
        server.stop()


def test_openai_rejected_key_is_a_clear_error() -> None:
    server = ReplayServer(
        {
            ("GET", "/v1/models"): Reply(
                401, b'{"error": {"message": "Invalid API key", "type": "auth"}}'
            )
        }
    ).start()
    try:
        with pytest.raises(
            EngineError, match="refused the request \\(401: Invalid API key\\)"
        ) as err:
            OpenAIEngine(EngineSettings(backend="openai", url=server.url)).load(lambda *_: None)
        assert "apiKeyEnv" in err.value.hint
    finally:
        server.stop()


def test_engine_down_one_error_then_quiet_then_recovery(caplog: pytest.LogCaptureFixture) -> None:
    """Without a real engine: the replay server stops and starts again on the same port."""
    server = ReplayServer(_openai_routes()).start()
    engine = OpenAIEngine(EngineSettings(backend="openai", url=server.url))
    engine.gate = ProblemGate("test", first_probe_s=0.05, max_probe_s=0.2)
    job = GenerationJob(prompt=PROMPT, max_tokens=4)
    try:
        assert engine.generate(job, CancelToken()).text == "return a + b"
        server.stop()
        with pytest.raises(EngineError, match="cannot be reached") as err:
            engine.generate(job, CancelToken())
        assert "Completions resume" in err.value.hint
        quiet = [engine.generate(job, CancelToken()) for _ in range(20)]
        assert {(r.text, r.stop_reason) for r in quiet} == {("", "error")}
        server.start()  # same port
        with caplog.at_level(logging.INFO, logger="lsp_server.engine.remote.gate"):
            result = _until_text(lambda: engine.generate(job, CancelToken()).text, timeout_s=30)
        assert result == "return a + b"
        assert "working again" in caplog.text
    finally:
        server.stop()
        engine.close()


def test_doctor_rows_when_the_engine_is_down() -> None:
    server = ReplayServer({}).start()
    url = server.url
    server.stop()
    rows = dict(check(EngineSettings(backend="ollama", url=url, remote_model="m")))
    assert rows["url"] == url
    assert rows["connection"].startswith("failed: Ollama at " + url + " cannot be reached")


def test_ollama_without_url_uses_its_default_port() -> None:
    assert OllamaEngine(EngineSettings(backend="ollama")).url == "http://127.0.0.1:11434"


def _until_text(produce: object, timeout_s: float) -> str:
    assert callable(produce)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = produce()
        if text:
            return str(text)
        time.sleep(0.05)
    raise AssertionError("no completion before the timeout")


def _cancel_once_streaming(server: ReplayServer, cancel: CancelToken) -> None:
    """Cancel from another thread as soon as the server has the request (as an editor would)."""
    streams = len(server.streams)

    def run() -> None:
        until = time.monotonic() + 30  # only guards a request that never comes
        while len(server.streams) == streams and time.monotonic() < until:
            time.sleep(0.01)
        cancel.cancel()

    threading.Thread(target=run, daemon=True).start()


def test_cancel_while_waiting_for_the_first_token() -> None:
    """A read blocked on a slow server (long prompt processing) ends on cancel.

    The server's first line would come 20 s after the request (within the 30 s read timeout):
    the client must hang up while the server has sent nothing, not read the first line and then
    notice. No wall-clock bound: the server's own log says when the client went away.
    """
    completions = "/v1/completions"
    routes = _openai_routes()
    routes[("POST", completions)] = recorded("openai/completions.sse", delay_s=20.0)
    server = ReplayServer(routes).start()
    engine = OpenAIEngine(EngineSettings(backend="openai", url=server.url))
    try:
        engine.load(lambda *_: None)
        cancel = CancelToken()
        _cancel_once_streaming(server, cancel)
        result = engine.generate(GenerationJob(prompt=PROMPT, max_tokens=4), cancel)
        assert (result.text, result.stop_reason) == ("", "cancelled")
        waiting = server.last_stream(completions).wait_ended()
        assert waiting.hung_up and waiting.sent == 0, waiting
    finally:
        server.stop()
        engine.close()


def test_time_budget_starts_with_the_first_text() -> None:
    """A slow prompt still yields text; the budget then cuts the rest of a long stream.

    The first line comes after 2 s, twice the 1 s budget: a budget counted from the request
    would end it with no text. The 200 lines then come 0.05 s apart (10 s in all): the budget must
    cut them, and the server must see the client hang up before the last line.
    """
    generate = "/api/generate"
    routes = {
        ("GET", "/api/version"): recorded("ollama/version.json"),
        ("POST", "/api/show"): recorded("ollama/show_qwen_coder.json"),
        ("POST", generate): recorded(
            "ollama/generate_long.ndjson", delay_s=0.05, first_delay_s=2.0
        ),
    }
    server = ReplayServer(routes).start()
    engine = OllamaEngine(
        EngineSettings(backend="ollama", url=server.url, remote_model="qwen2.5-coder:1.5b-base")
    )
    try:
        result = engine.generate(
            GenerationJob(prompt=PROMPT, max_tokens=800, time_budget_s=1.0), CancelToken()
        )
        assert result.stop_reason == "deadline"
        # More than the first line: the budget runs after it (20 lines due; 2 is a wide margin).
        assert result.text.startswith("    x0 = 0\n    x1 = 1\n"), result.text
        stream = server.last_stream(generate).wait_ended()
        assert stream.hung_up and 2 <= stream.sent < stream.lines, stream
        assert result.text.count("\n") < stream.lines
    finally:
        server.stop()
        engine.close()
