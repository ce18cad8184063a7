from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from lsp_server.config import (
    DEFAULT_MODEL,
    KEYS,
    EngineSettings,
    PromptSettings,
    ServingSettings,
    Settings,
    SettingsSources,
    merge,
)

# Every flat user key, camelCase as users write it, and the section that holds it.
FLAT_KEYS = {
    "model": "engine", "backend": "engine", "url": "engine", "remoteModel": "engine",
    "apiKeyEnv": "engine", "nThreads": "engine", "nCtx": "engine", "nGpuLayers": "engine",
    "nBatch": "engine", "fimTemplate": "engine", "lookupDecoding": "engine", "kvReuse": "engine",
    "kvStoreFiles": "engine", "kvStoreMb": "engine",
    "maxTokens": "prompt", "timeBudgetMs": "prompt", "typingBudgetMs": "prompt", "coldBudgetMs": "prompt",
    "coldPromptRate": "prompt",
    "prefixTokens": "prompt", "suffixTokens": "prompt", "multiline": "prompt",
    "extraContext": "prompt", "extraContextTokens": "prompt", "promptLayout": "prompt",
    "repoContext": "prompt", "repoContextTokens": "prompt", "importContextTokens": "prompt",
    "enabled": "serving", "disabledLanguages": "serving", "prefetch": "serving",
    "speculate": "serving", "suggestionCache": "serving", "prewarm": "serving", "nextEdit": "serving",
    "nextEditBudgetMs": "serving",
}  # fmt: skip
# A valid value unlike the default, per field type.
SAMPLE = {bool: False, int: 1024, str: "x", tuple: ["rust"]}


def _sample(section: object, name: str) -> object:
    default = getattr(section, name)
    if name in ("backend", "multiline", "prompt_layout"):
        return {"backend": "ollama", "multiline": "never", "prompt_layout": "psm"}[name]
    return SAMPLE[type(default)]


def test_defaults_work_offline() -> None:
    assert Settings().engine.model == DEFAULT_MODEL
    assert Settings().engine.backend == "llama_cpp"


def test_every_flat_key_lands_in_its_section() -> None:
    assert len(KEYS) == len(FLAT_KEYS)
    defaults = Settings()
    for key, section in FLAT_KEYS.items():
        name = next(n for n in KEYS if n.replace("_", "") == key.lower())
        value = _sample(getattr(defaults, section), name)
        result = merge(defaults, {key: value}, "test")
        assert result.problems == [], key
        changed = getattr(result.settings, section)
        expected = tuple(value) if isinstance(value, list) else value
        assert getattr(changed, name) == expected, key
        assert dataclasses.replace(result.settings, **{section: getattr(defaults, section)}) == defaults, key


def test_sections_hold_what_they_name() -> None:
    assert {f.name for f in dataclasses.fields(Settings)} == {"engine", "prompt", "serving"}
    assert isinstance(Settings().engine, EngineSettings)
    assert isinstance(Settings().prompt, PromptSettings)
    assert isinstance(Settings().serving, ServingSettings)


def test_of_takes_flat_names_and_rejects_unknown_ones() -> None:
    s = Settings.of(model="m", max_tokens=5, speculate=False)
    assert (s.engine.model, s.prompt.max_tokens, s.serving.speculate) == ("m", 5, False)
    with pytest.raises(TypeError):
        Settings.of(bogus=1)


def test_camel_case_keys_and_bad_values_keep_defaults() -> None:
    result = merge(Settings(), {"maxTokens": 32, "nThreads": "four", "multiline": "sometimes", "bogus": 1}, "test")
    assert result.settings.prompt.max_tokens == 32
    assert result.settings.engine.n_threads == EngineSettings().n_threads
    assert result.settings.prompt.multiline == "auto"
    assert result.problems == [
        "test: nThreads = 'four': expected an integer; using 0",
        "test: multiline = 'sometimes': expected one of auto, always, never; using 'auto'",
        "test: unknown setting 'bogus' (ignored)",
    ]


def test_bad_value_messages_per_type() -> None:
    raw = {"enabled": "yes", "nCtx": 10, "disabledLanguages": "python", "fimTemplate": 3}
    assert merge(Settings(), raw, "src").problems == [
        "src: enabled = 'yes': expected true or false; using True",
        "src: nCtx = 10: must be at least 256; using 4096",
        "src: disabledLanguages = 'python': expected a list of strings; using ()",
        "src: fimTemplate = 3: expected a string; using 'auto'",
    ]


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
