"""Typed settings, where they come from, and how they merge.

Precedence, lowest to highest (later sources override earlier ones key by key):
defaults < TOML file (``<platformdirs config dir>/fim-lsp/config.toml``) < ``initializationOptions``
< ``workspace/configuration`` (section ``fimLsp``) < ``FIM_LSP_MODEL`` env var < ``--model`` flag.
Invalid values are reported once and replaced by the default; the rest still applies.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover
    import tomli as tomllib  # type: ignore[no-redef]

import platformdirs

from lsp_server.backends import BACKENDS

SECTION = "fimLsp"
DEFAULT_MODEL = "qwen2.5-coder-0.5b-offline"


@dataclass(frozen=True)
class Settings:
    """Every user-tunable knob, with defaults that work offline on a laptop."""

    enabled: bool = True
    model: str = DEFAULT_MODEL
    backend: str = "llama_cpp"
    url: str = ""  # remote backends: base URL, e.g. http://127.0.0.1:8012
    remote_model: str = ""  # model name sent to OpenAI-compatible / Ollama servers
    api_key_env: str = "FIM_LSP_API_KEY"  # env var holding the API key (never logged)
    n_threads: int = 0  # 0: one per physical core
    n_ctx: int = 4096
    n_gpu_layers: int = 0  # -1: offload all layers
    n_batch: int = 64  # prompt chunk size: abort is checked between chunks
    max_tokens: int = 96
    time_budget_ms: int = 3000  # generation time per request; cut at a line boundary
    # Shorter budget while the user is typing on a line (text left of the cursor): a fast first
    # line fills typing pauses; a blank line (start of a block) gets the full budget.
    typing_budget_ms: int = 500
    prefix_tokens: int = 384
    suffix_tokens: int = 128
    fim_template: str = "auto"
    multiline: str = "auto"  # auto | always | never
    disabled_languages: tuple[str, ...] = field(default=())
    extra_context: bool = False  # other open buffers as repository context (off: hurt the 0.5B test model)
    extra_context_tokens: int = 256
    prefetch: bool = True  # after a suggestion, compute the next one as if it were accepted
    # On each keystroke in a document the editor completes as you type, start the request it is
    # about to send (after its debounce). In-process engine only.
    speculate: bool = True
    suggestion_cache: bool = True  # answer typed-through and repeated positions from memory
    # Check a continuation drafted from earlier text in one batch (same output as plain greedy).
    lookup_decoding: bool = True
    kv_reuse: bool = True  # keep the KV cache's common prefix between requests (off: benchmarks)
    prompt_layout: str = "anchored"  # anchored: cursor-line text after the FIM middle token; psm


_CHOICES: dict[str, tuple[str, ...]] = {
    "backend": tuple(BACKENDS),
    "multiline": ("auto", "always", "never"),
    "prompt_layout": ("anchored", "psm"),
}
_MINIMUM: dict[str, int] = {
    "n_threads": 0,
    "n_ctx": 256,
    "n_gpu_layers": -1,
    "n_batch": 1,
    "max_tokens": 1,
    "time_budget_ms": 50,
    "typing_budget_ms": 50,
    "prefix_tokens": 0,
    "suffix_tokens": 0,
    "extra_context_tokens": 0,
}


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower().replace("-", "_")


def _field_types() -> dict[str, Any]:
    return {f.name: f.type for f in fields(Settings)}


def _coerce(name: str, value: Any) -> Any:
    """Return the value converted to the field's type, or raise ValueError with why."""
    kind = _field_types()[name]
    if kind == "bool":
        if isinstance(value, bool):
            return value
        raise ValueError("expected true or false")
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("expected an integer")
        if value < _MINIMUM.get(name, value):
            raise ValueError(f"must be at least {_MINIMUM[name]}")
        return value
    if kind == "str":
        if not isinstance(value, str):
            raise ValueError("expected a string")
        if name in _CHOICES and value not in _CHOICES[name]:
            raise ValueError("expected one of " + ", ".join(_CHOICES[name]))
        return value
    if kind.startswith("tuple"):
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ValueError("expected a list of strings")
        return tuple(value)
    raise ValueError(f"unsupported setting type {kind}")  # pragma: no cover


@dataclass
class SettingsResult:
    settings: Settings
    problems: list[str]


def merge(base: Settings, raw: Mapping[str, Any] | None, source: str) -> SettingsResult:
    """Apply one source's raw mapping on top of ``base``; bad keys are skipped with a problem."""
    if raw is None:
        return SettingsResult(base, [])
    if not isinstance(raw, Mapping):
        return SettingsResult(base, [f"{source}: settings must be an object, got {type(raw).__name__}"])
    known = _field_types()
    updates: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in raw.items():
        name = _snake(str(key))
        if name not in known:
            problems.append(f"{source}: unknown setting {key!r} (ignored)")
            continue
        if value is None:
            continue
        try:
            updates[name] = _coerce(name, value)
        except ValueError as err:
            problems.append(f"{source}: {key} = {value!r}: {err}; using {getattr(base, name)!r}")
    return SettingsResult(dataclasses.replace(base, **updates), problems)


def config_file() -> Path:
    return Path(platformdirs.user_config_dir("fim-lsp")) / "config.toml"


def read_toml(path: Path) -> SettingsResult:
    """Settings from a TOML file: top-level keys or a ``[fimLsp]`` table."""
    if not path.is_file():
        return SettingsResult(Settings(), [])
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        return SettingsResult(Settings(), [f"{path}: cannot read ({err}); using defaults"])
    table = data.get(SECTION, data)
    return merge(Settings(), table, str(path))


@dataclass
class SettingsSources:
    """The raw inputs, kept so a ``didChangeConfiguration`` can recompute the merge."""

    toml_path: Path | None = None
    init_options: Mapping[str, Any] | None = None
    workspace: Mapping[str, Any] | None = None
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    cli_model: str | None = None

    def resolve(self) -> SettingsResult:
        result = read_toml(self.toml_path or config_file())
        problems = list(result.problems)
        settings = result.settings
        for raw, source in (
            (self.init_options, "initializationOptions"),
            (self.workspace, "workspace/configuration"),
        ):
            step = merge(settings, raw, source)
            settings, problems = step.settings, problems + step.problems
        env_model = self.env.get("FIM_LSP_MODEL")
        if env_model:
            settings = dataclasses.replace(settings, model=env_model)
        if self.cli_model:
            settings = dataclasses.replace(settings, model=self.cli_model)
        return SettingsResult(settings, problems)
