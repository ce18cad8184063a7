"""The backend registry: one table that settings validation, create_engine and the doctor share."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from lsp_server import doctor
from lsp_server.backends import BACKENDS
from lsp_server.config import EngineSettings, Settings, SettingsResult, merge
from lsp_server.engine import EngineError, create_engine, engine_class
from lsp_server.engine.remote.base import RemoteEngine

ENGINE_METHODS = ("load", "count_tokens", "generate", "close")


@pytest.mark.parametrize("name", list(BACKENDS))
def test_each_entry_names_an_engine_class_of_its_kind(name: str) -> None:
    backend = BACKENDS[name]
    cls = engine_class(backend)
    assert isinstance(cls, type)
    assert all(callable(getattr(cls, method, None)) for method in ENGINE_METHODS)
    assert issubclass(cls, RemoteEngine) == backend.remote


def test_settings_accept_exactly_the_registered_backends() -> None:
    for name in BACKENDS:
        assert merge(Settings(), {"backend": name}, "test").settings.engine.backend == name
    result = merge(Settings(), {"backend": "vllm"}, "test")
    assert result.settings.engine.backend == EngineSettings().backend
    assert result.problems == [
        "test: backend = 'vllm': expected one of llama_cpp, llama-server, openai, ollama; "
        "using 'llama_cpp'"
    ]


@pytest.mark.parametrize("name", [n for n, b in BACKENDS.items() if b.remote])
def test_create_engine_builds_the_registered_class(name: str) -> None:
    engine = create_engine(EngineSettings(backend=name))
    try:
        assert type(engine) is engine_class(BACKENDS[name])
    finally:
        engine.close()


def test_create_engine_names_the_backends_it_knows() -> None:
    with pytest.raises(EngineError, match="unknown backend 'vllm'") as err:
        create_engine(EngineSettings(backend="vllm"))
    assert err.value.hint == "Use one of llama_cpp, llama-server, openai, ollama."


def test_a_remote_backend_never_imports_the_in_process_engine() -> None:
    code = (
        "import sys\n"
        "from lsp_server.config import EngineSettings\n"
        "from lsp_server.engine import create_engine\n"
        "create_engine(EngineSettings(backend='ollama')).close()\n"
        "assert 'lsp_server.engine.llama_cpp' not in sys.modules\n"
        "assert 'numpy' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_doctor_checks_the_connection_of_a_remote_backend(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(doctor, "_llama_cpp_rows", lambda: True)
    monkeypatch.setattr(doctor, "_model_rows", lambda _result: pytest.fail("not a local model"))
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = Settings.of(backend="ollama", url=url, remote_model="m")
    assert doctor.run_doctor(SettingsResult(settings, [])) == 1
    out = capsys.readouterr().out
    assert f"ollama at {url}" in out
    assert "failed: Ollama at " + url + " cannot be reached" in out


def test_doctor_check_refuses_the_in_process_backend() -> None:
    assert doctor.check(EngineSettings(backend="llama_cpp")) == [("connection", "not a remote backend")]


def test_the_vs_code_extension_offers_exactly_the_registered_backends() -> None:
    """The extension's one list of backends is its package.json enum (the settings UI shows it,
    settings.ts reads it); it must name what this table names, in its order."""
    manifest = json.loads((Path(__file__).resolve().parents[1] / "editor-clients/vscode/package.json").read_text())
    setting = manifest["contributes"]["configuration"]["properties"]["fimLsp.backend"]
    assert setting["enum"] == list(BACKENDS)
    assert len(setting["enumDescriptions"]) == len(BACKENDS)
