"""``fim-lsp doctor``: what a bug report needs, gathered without starting the server."""

from __future__ import annotations

import platform
import sys
import time

from lsp_server import __version__, models
from lsp_server.backends import BACKENDS
from lsp_server.config import EngineSettings, SettingsResult, config_file
from lsp_server.context.types import Prompt
from lsp_server.engine import CancelToken, EngineError, EngineInfo, GenerationJob, create_engine
from lsp_server.engine.remote.base import RemoteEngine, api_key


def _row(label: str, value: str) -> None:
    print(f"{label:22} {value}")


def _llama_cpp_rows() -> bool:
    try:
        import llama_cpp
    except Exception as err:
        _row("llama-cpp-python", f"NOT USABLE: {err}")
        return False
    _row("llama-cpp-python", f"{llama_cpp.__version__} ({llama_cpp.__file__})")
    _row("GPU offload", "yes" if llama_cpp.llama_supports_gpu_offload() else "no (CPU build)")
    _row("CPU features", llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip())
    return True


def _speed_rows(threads: int) -> dict[str, models.Speed]:
    """Each downloaded size's measured speed (probed now if never before), and the typing
    request predicted from it; the 1.5B's estimate where it is not downloaded."""
    from lsp_server.engine.probe import machine_speeds

    try:
        speeds = machine_speeds(threads)
    except EngineError as err:
        _row("speed", f"not measured: {err.user_message()}")
        return {}
    except (ValueError, RuntimeError, OSError) as err:
        _row("speed", f"not measured: {err}")
        return {}
    for size in models.SIZES:
        speed = speeds.get(size)
        if speed is None and size == "1.5B" and "0.5B" in speeds:
            speed = speeds["0.5B"].scaled_to_big()
        if speed is None:
            _row(f"speed {size}", "not measured (not downloaded)")
            continue
        _row(f"speed {size}", f"prompt {speed.prompt_tps:.0f}, generation {speed.gen_tps:.0f} tokens/s on {threads} "
                              f"threads ({speed.source}); a typing request: {speed.typing_s():.2f} s")  # fmt: skip
    return speeds


def _model_rows(result: SettingsResult) -> bool:
    from lsp_server.engine.llama_cpp import LlamaCppEngine

    settings = result.settings.engine
    gpu = _gpu_offload(settings.n_gpu_layers)
    _row("model", settings.model)
    name = settings.model
    if settings.model == models.AUTO:
        speeds = {} if gpu else _speed_rows(settings.n_threads or models.this_machine(speeds={}).cores)
        choice = models.choose(models.this_machine(gpu, speeds))
        _row("model choice", f"{choice.preset}: {choice.reason} (set fimLsp.model to choose another)")
        # the file of this choice: `local_path("auto")` would read the speeds kept for one
        # thread per core, not those of nThreads that the server (and this choice) uses
        name = choice.preset
    path = models.local_path(name, gpu)
    if path is None:
        name = models.preset_for(name, gpu)
        _row("model file", f"not downloaded (run: fim-lsp model pull {name})")
        return False
    _row("model file", f"{path} ({path.stat().st_size / 2**20:.0f} MiB)")
    engine = LlamaCppEngine(settings)
    t0 = time.monotonic()
    try:
        info = engine.load(lambda _m, _p: None)
    except EngineError as err:
        _row("model load", f"FAILED: {err.user_message()}")
        return False
    _row("model load", f"ok in {time.monotonic() - t0:.1f}s: {info.details.get('name', '')}")
    _row("FIM format", info.fim_format)
    _row("context / threads", f"{info.details['n_ctx']} tokens / {info.details['n_threads']} threads, "
                              f"{info.details['n_gpu_layers']} GPU layers")
    engine.close()
    return True


def _gpu_offload(n_gpu_layers: int) -> bool:
    """Whether the model's layers go to a GPU: a GPU build, and nGpuLayers not 0."""
    if n_gpu_layers == 0:
        return False
    try:
        import llama_cpp
    except Exception:
        return False
    return bool(llama_cpp.llama_supports_gpu_offload())


def _remote_rows(result: SettingsResult) -> bool:
    settings = result.settings.engine
    _row("backend", f"{settings.backend} at {settings.url or '(no url set)'}")
    ok = True
    for label, value in check(settings):
        _row(label, value)
        ok = ok and "fail" not in value.lower()
    return ok


def check(settings: EngineSettings) -> list[tuple[str, str]]:
    """Rows for a remote backend: can we reach the engine, which model, how FIM is done.

    Also runs one tiny completion, since a server can list a model it then fails to run.
    """
    try:
        engine = create_engine(settings)
    except EngineError as err:
        return [("connection", f"failed: {err.user_message()}")]
    if not isinstance(engine, RemoteEngine):
        return [("connection", "not a remote backend")]
    rows: list[tuple[str, str]] = [("url", engine.url)]
    if settings.api_key_env:
        state = "set" if api_key(settings) else "not set"
        rows.append(("API key", f"${settings.api_key_env} {state}"))
    try:
        info = engine.load(lambda _msg, _pct: None)
    except EngineError as err:
        engine.close()
        return rows + [("connection", f"failed: {err.user_message()}")]
    rows += [("connection", "OK"), ("model", info.model), ("FIM", describe_fim(info))]
    rows += [(key, value) for key, value in info.details.items() if key != "url"]
    job = GenerationJob(
        prompt=Prompt(prefix="def add(a, b):\n    ", suffix="\n"), max_tokens=4, time_budget_s=30
    )
    started = time.monotonic()
    try:
        engine.generate(job, CancelToken())
        rows.append(("test completion", f"OK in {(time.monotonic() - started) * 1000:.0f} ms"))
    except EngineError as err:
        rows.append(("test completion", f"failed: {err.user_message()}"))
    finally:
        engine.close()
    return rows


def describe_fim(info: EngineInfo) -> str:
    route = info.details.get("route", "")
    if info.capabilities.server_side_fim:
        return f"server-side ({route}), model tokens: {info.fim_format}"
    return f"raw prompt ({route}), template {info.fim_format}"


def run_doctor(result: SettingsResult) -> int:
    _row("fim-lsp", __version__)
    _row("python", f"{sys.version.split()[0]} on {platform.platform()}")
    _row("config file", f"{config_file()} ({'found' if config_file().is_file() else 'not present'})")
    _row("model cache", str(models.models_dir()))
    for problem in result.problems:
        _row("settings problem", problem)
    ok = _llama_cpp_rows()
    backend = BACKENDS.get(result.settings.engine.backend)
    if backend is not None and not backend.remote:
        ok = _model_rows(result) and ok
    else:
        ok = _remote_rows(result) and ok
    return 0 if ok else 1
