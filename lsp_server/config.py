"""Typed settings, where they come from, and how they merge.

Users write one flat mapping of camelCase keys; inside, `Settings` holds three sections (engine,
prompt, serving) so that each stage sees only its own part and an engine reload is simply a
change of the engine section. `KEYS` maps each flat key to its section.

Precedence, lowest to highest (later sources override earlier ones key by key):
defaults < TOML file (``<platformdirs config dir>/fim-lsp/config.toml``) < ``initializationOptions``
< ``workspace/configuration`` (section ``fimLsp``) < ``FIM_LSP_MODEL`` env var < ``--model`` flag.
Invalid values are reported once and replaced by the default; the rest still applies.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_origin, get_type_hints

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover
    import tomli as tomllib  # type: ignore[no-redef]

import platformdirs

from lsp_server.backends import BACKENDS

SECTION = "fimLsp"
DEFAULT_MODEL = "auto"  # a preset chosen for the machine (models.choose)


@dataclass(frozen=True)
class EngineSettings:
    """What making an engine needs; any change here means a new engine (a reload or reconnect).

    ``kv_reuse`` and ``lookup_decoding`` live here rather than apart as benchmark switches: the
    in-process engine reads them on every request, and turning them off (benchmarks do, to
    measure without them) must start from a fresh KV cache, as a reload does.
    """

    model: str = DEFAULT_MODEL
    backend: str = "llama_cpp"
    url: str = ""  # remote backends: base URL, e.g. http://127.0.0.1:8012
    remote_model: str = ""  # model name sent to OpenAI-compatible / Ollama servers
    api_key_env: str = "FIM_LSP_API_KEY"  # env var holding the API key (never logged)
    n_threads: int = 0  # 0: one per physical core
    n_ctx: int = 4096
    n_gpu_layers: int = 0  # -1: offload all layers
    n_batch: int = 64  # prompt chunk size: abort is checked between chunks
    fim_template: str = "auto"
    # Check a continuation drafted from earlier text in one batch (same output as plain greedy).
    lookup_decoding: bool = True
    kv_reuse: bool = True  # keep the KV cache's common prefix between requests (off: benchmarks)
    # The KV state of this many recently used documents, at most this many MiB, kept on disk
    # (engine/kv_store.py) so a restarted server answers at once in a file it had open; 0: off.
    kv_store_files: int = 8
    kv_store_mb: int = 256


@dataclass(frozen=True)
class PromptSettings:
    """How one request's prompt and generation are shaped; read per request, no reload."""

    max_tokens: int = 96
    time_budget_ms: int = 3000  # generation time per request; cut at a line boundary
    # Shorter budget while the user is typing on a line (text left of the cursor): a fast first
    # line fills typing pauses, and the suggestion ends within it (`GenerationJob.end_in_budget`);
    # a blank line (start of a block) gets the full budget.
    typing_budget_ms: int = 500
    # A request whose prompt is mostly not in the KV cache (a newly opened file) gets a smaller
    # window, evaluated within this time at the measured prompt speed, and a generation cut at
    # the first line end past it; the full window is evaluated in the background for the next
    # request (completion/cold.py). The first request in a document is cut so too. 0: off.
    cold_budget_ms: int = 1000
    # Prompt tokens/s the cold window is sized by; 0: the speed measured on this machine. For
    # benchmarks that compare two runs: the measured speed moves from run to run, and with it
    # every cold window's size (bench/HISTORY.md, sixth round: 30 of 33 changed answers).
    cold_prompt_rate: int = 0
    prefix_tokens: int = 384
    # The code after the cursor decides most on real files (bench/realcode.md: 128 -> 384 took
    # first-line exact match from 20.8% to 28.1% on 96 holes); typing re-evaluates it only at a
    # re-anchor, since the prompt puts the text typed after the anchor last.
    suffix_tokens: int = 384
    multiline: str = "auto"  # auto | always | never
    extra_context: bool = False  # other open buffers as repository context (off: hurt the 0.5B test model)
    extra_context_tokens: int = 256
    # Stubs of what the buffer imports from other workspace modules (context/definitions.py).
    repo_context: bool = False
    repo_context_tokens: int = 256
    # The file's own import lines before a prefix window that starts below them (0: off); on
    # the repository-level set they named the right cross-file names more often (bench/README.md).
    import_context_tokens: int = 128
    prompt_layout: str = "anchored"  # anchored: cursor-line text after the FIM middle token; psm


@dataclass(frozen=True)
class ServingSettings:
    """When the server completes at all, and what it computes ahead or answers from memory."""

    enabled: bool = True
    disabled_languages: tuple[str, ...] = field(default=())
    prefetch: bool = True  # after a suggestion, compute the next one as if it were accepted
    # On each keystroke in a document the editor completes as you type, start the request it is
    # about to send (after its debounce). In-process engine only.
    speculate: bool = True
    suggestion_cache: bool = True  # answer typed-through and repeated positions from memory
    # Evaluate a document's prompt head in the background when it is opened or first changed.
    prewarm: bool = True
    # Next-edit suggestions (fimLsp/inlineEdit, textDocument/copilotInlineEdit): after an edit,
    # the edits that follow it near the cursor. In-process engine only. On: on the next-edit set
    # (bench/nextedit.md) the follow-ups of renames and signature changes are right on 94-98% of
    # cases, and complete edits get none (0/15; 3/15 of the look-alikes).
    next_edit: bool = True
    next_edit_budget_ms: int = 6000  # a prediction still running after this shows no edits


@dataclass(frozen=True)
class Settings:
    """Every user-tunable knob in sections, with defaults that work offline on a laptop.

    Users still write flat camelCase keys; `KEYS` maps each to its section.
    """

    engine: EngineSettings = field(default_factory=EngineSettings)
    prompt: PromptSettings = field(default_factory=PromptSettings)
    serving: ServingSettings = field(default_factory=ServingSettings)

    @classmethod
    def of(cls, **flat: Any) -> Settings:
        """Settings from flat snake_case names (tests, bench); values are not validated."""
        return cls().replace(**flat)

    def replace(self, **flat: Any) -> Settings:
        """A copy with flat snake_case names changed, each in its own section."""
        by_section: dict[str, dict[str, Any]] = {}
        for name, value in flat.items():
            if name not in KEYS:
                raise TypeError(f"unknown setting {name!r}")
            by_section.setdefault(KEYS[name], {})[name] = value
        changes = {sec: dataclasses.replace(getattr(self, sec), **vals) for sec, vals in by_section.items()}
        return dataclasses.replace(self, **changes)

    def get(self, name: str) -> Any:
        """The value of a flat snake_case name."""
        return getattr(getattr(self, KEYS[name]), name)


def _flat_fields() -> dict[str, tuple[str, Any]]:
    """Each flat name's section on `Settings` and its resolved type (real types, not strings:
    annotations are postponed here, so `get_type_hints` evaluates them)."""
    found: dict[str, tuple[str, Any]] = {}
    for section, cls in get_type_hints(Settings).items():
        for name, kind in get_type_hints(cls).items():
            if name in found:  # flat user keys must name one field
                raise TypeError(f"setting {name!r} is in two sections")
            found[name] = (section, kind)
    return found


_FIELDS = _flat_fields()
# The one map from a flat setting name to the section holding it.
KEYS: dict[str, str] = {name: section for name, (section, _) in _FIELDS.items()}
_TYPES: dict[str, Any] = {name: kind for name, (_, kind) in _FIELDS.items()}


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
    "cold_budget_ms": 0,
    "cold_prompt_rate": 0,
    "prefix_tokens": 0,
    "suffix_tokens": 0,
    "extra_context_tokens": 0,
    "repo_context_tokens": 0,
    "import_context_tokens": 0,
    "kv_store_files": 0,
    "kv_store_mb": 0,
    "next_edit_budget_ms": 100,
}


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower().replace("-", "_")


def _to_bool(_name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError("expected true or false")


def _to_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):  # JSON true is not a count
        raise ValueError("expected an integer")
    if value < _MINIMUM.get(name, value):
        raise ValueError(f"must be at least {_MINIMUM[name]}")
    return value


def _to_str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a string")
    if name in _CHOICES and value not in _CHOICES[name]:
        raise ValueError("expected one of " + ", ".join(_CHOICES[name]))
    return value


def _to_strings(_name: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError("expected a list of strings")
    return tuple(value)


# One converter per field type (`tuple` stands for tuple[str, ...]).
_CONVERTERS: dict[Any, Callable[[str, Any], Any]] = {bool: _to_bool, int: _to_int, str: _to_str, tuple: _to_strings}


def _coerce(name: str, value: Any) -> Any:
    """Return the value converted to the field's type, or raise ValueError with why."""
    kind = _TYPES[name]
    return _CONVERTERS[get_origin(kind) or kind](name, value)


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
    updates: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in raw.items():
        name = _snake(str(key))
        if name not in KEYS:
            problems.append(f"{source}: unknown setting {key!r} (ignored)")
            continue
        if value is None:
            continue
        try:
            updates[name] = _coerce(name, value)
        except ValueError as err:
            problems.append(f"{source}: {key} = {value!r}: {err}; using {base.get(name)!r}")
    return SettingsResult(base.replace(**updates), problems)


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
            settings = settings.replace(model=env_model)
        if self.cli_model:
            settings = settings.replace(model=self.cli_model)
        return SettingsResult(settings, problems)
