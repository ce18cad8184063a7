from __future__ import annotations

from pathlib import Path

from lsp_server.config import DEFAULT_MODEL, Settings, SettingsSources, merge


def test_defaults_work_offline() -> None:
    assert Settings().model == DEFAULT_MODEL
    assert Settings().backend == "llama_cpp"


def test_camel_case_keys_and_bad_values_keep_defaults() -> None:
    result = merge(Settings(), {"maxTokens": 32, "nThreads": "four", "multiline": "sometimes", "bogus": 1}, "test")
    assert result.settings.max_tokens == 32
    assert result.settings.n_threads == Settings().n_threads
    assert result.settings.multiline == "auto"
    assert len(result.problems) == 3
    assert any("bogus" in p for p in result.problems)


def test_non_object_settings_are_reported() -> None:
    result = merge(Settings(), ["model"], "initializationOptions")  # type: ignore[arg-type]
    assert result.settings == Settings() and result.problems


def test_precedence_toml_init_workspace_env_flag(tmp_path: Path) -> None:
    toml = tmp_path / "config.toml"
    toml.write_text('[fimLsp]\nmodel = "from-toml"\nmaxTokens = 10\nnCtx = 1024\n')
    sources = SettingsSources(toml_path=toml, env={})
    assert sources.resolve().settings.model == "from-toml"
    sources.init_options = {"model": "from-init", "maxTokens": 20}
    assert sources.resolve().settings.model == "from-init"
    sources.workspace = {"model": "from-workspace"}
    s = sources.resolve().settings
    assert (s.model, s.max_tokens, s.n_ctx) == ("from-workspace", 20, 1024)
    sources.env = {"FIM_LSP_MODEL": "from-env"}
    assert sources.resolve().settings.model == "from-env"
    sources.cli_model = "from-flag"
    assert sources.resolve().settings.model == "from-flag"


def test_broken_toml_is_reported_not_fatal(tmp_path: Path) -> None:
    toml = tmp_path / "config.toml"
    toml.write_text("model = [unclosed")
    result = SettingsSources(toml_path=toml, env={}).resolve()
    assert result.settings == Settings()
    assert "cannot read" in result.problems[0]
