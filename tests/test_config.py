from __future__ import annotations

from pathlib import Path

from lsp_server.config import DEFAULT_MODEL, EngineSettings, Settings, SettingsSources, merge


def test_defaults_work_offline() -> None:
    assert Settings().engine.model == DEFAULT_MODEL
    assert Settings().engine.backend == "llama_cpp"


def test_camel_case_keys_and_bad_values_keep_defaults() -> None:
    result = merge(Settings(), {"maxTokens": 32, "nThreads": "four", "multiline": "sometimes", "bogus": 1}, "test")
    assert result.settings.prompt.max_tokens == 32
    assert result.settings.engine.n_threads == EngineSettings().n_threads
    assert result.settings.prompt.multiline == "auto"
    assert len(result.problems) == 3
    assert any("bogus" in p for p in result.problems)


def test_non_object_settings_are_reported() -> None:
    result = merge(Settings(), ["model"], "initializationOptions")  # type: ignore[arg-type]
    assert result.settings == Settings() and result.problems


def test_precedence_toml_init_workspace_env_flag(tmp_path: Path) -> None:
    toml = tmp_path / "config.toml"
    toml.write_text('[fimLsp]\nmodel = "from-toml"\nmaxTokens = 10\nnCtx = 1024\n')
    sources = SettingsSources(toml_path=toml, env={})
    assert sources.resolve().settings.engine.model == "from-toml"
    sources.init_options = {"model": "from-init", "maxTokens": 20}
    assert sources.resolve().settings.engine.model == "from-init"
    sources.workspace = {"model": "from-workspace"}
    s = sources.resolve().settings
    assert (s.engine.model, s.prompt.max_tokens, s.engine.n_ctx) == ("from-workspace", 20, 1024)
    sources.env = {"FIM_LSP_MODEL": "from-env"}
    assert sources.resolve().settings.engine.model == "from-env"
    sources.cli_model = "from-flag"
    assert sources.resolve().settings.engine.model == "from-flag"


def test_broken_toml_is_reported_not_fatal(tmp_path: Path) -> None:
    toml = tmp_path / "config.toml"
    toml.write_text("model = [unclosed")
    result = SettingsSources(toml_path=toml, env={}).resolve()
    assert result.settings == Settings()
    assert "cannot read" in result.problems[0]
