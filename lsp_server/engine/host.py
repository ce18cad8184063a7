"""The engine's lifecycle, shared by every feature: the settings in force, load and reload, close.

The host owns the one worker thread (`worker.py`) that runs the engine: a llama.cpp context is
not thread-safe, so every feature submits its jobs there. The engine is created, loaded and
closed on that thread, never under a running decode. The fields here are set on the event loop
only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from lsp_server.config import EngineSettings, PromptSettings, Settings
from lsp_server.engine import Engine, EngineError, EngineInfo, create_engine
from lsp_server.engine.base import ProgressCallback
from lsp_server.engine.worker import EngineWorker

log = logging.getLogger(__name__)

CLOSE_TIMEOUT_S = 30


class EngineHost:
    """The settings in force, the engine made from them, and the thread it runs on (``worker``)."""

    def __init__(self, settings: Settings, factory: Callable[[EngineSettings], Engine] = create_engine) -> None:
        self.settings = settings
        self._factory = factory
        self.worker = EngineWorker(threads=1)  # one thread: a llama.cpp context is not thread-safe
        self._on_load: list[Callable[[], None]] = []
        self.engine: Engine | None = None
        self.info: EngineInfo | None = None
        self.error: EngineError | None = None  # why the last load failed

    @property
    def ready(self) -> bool:
        return self.engine is not None and self.info is not None

    @property
    def remote(self) -> bool:
        """A shared server completes, not this process: the loaded engine says so; before one
        loads, the backend setting does."""
        if self.info is not None:
            return not self.info.capabilities.local
        return self.settings.engine.backend != "llama_cpp"

    def reconfigure(self, new: Settings) -> bool:
        """Put ``new`` in force; True when the engine must be reloaded for it: exactly when
        its section, the only settings an engine sees, changed."""
        reload = new.engine != self.settings.engine
        self.settings = new
        return reload

    def on_load(self, forget: Callable[[], None]) -> None:
        """Call ``forget`` (on the event loop) before each load: state kept for the old engine,
        such as a feature's prompt anchors, is worthless to the new one."""
        self._on_load.append(forget)

    async def load(self, progress: ProgressCallback) -> EngineInfo:
        """(Re)create and load the engine on the worker; raises EngineError with a hint."""
        for forget in self._on_load:
            forget()
        old, self.engine, self.info, self.error = self.engine, None, None, None
        engine = self._factory(self.settings.engine)

        def run() -> EngineInfo:
            if old is not None:
                old.close()
            return engine.load(progress)

        try:
            info = await self.worker.call(run)
        except EngineError as err:
            self.error = err
            raise
        except MemoryError as err:
            self.error = EngineError("out of memory while loading the model", "Pick a smaller model or lower fimLsp.nCtx.")
            raise self.error from err
        self.engine, self.info = engine, info
        _warn_if_window_too_big(info, self.settings.prompt)
        return info

    async def close(self) -> None:
        """Close the engine on its own thread; never raises (it runs on exit)."""
        engine, self.engine, self.info = self.engine, None, None
        if engine is None:
            return
        try:
            await asyncio.wait_for(self.worker.call(engine.close), timeout=CLOSE_TIMEOUT_S)
        except Exception:
            log.debug("engine close failed", exc_info=True)

    async def shutdown(self) -> None:
        """Stop every running job, close the engine on its own thread, end the thread."""
        self.worker.cancel_all()
        await self.close()
        self.worker.shutdown()


def _warn_if_window_too_big(info: EngineInfo, prompt: PromptSettings) -> None:
    """A request over the server's per-request share fails; say so once, at load."""
    need = prompt.prefix_tokens + prompt.suffix_tokens + prompt.max_tokens
    need += prompt.extra_context_tokens if prompt.extra_context else 0
    need += prompt.repo_context_tokens if prompt.repo_context else 0
    need += prompt.import_context_tokens
    if info.request_tokens and need > info.request_tokens:
        log.warning(
            "llama-server slots hold %d tokens but a request may need %d; raise -c on the "
            "server (it is shared by --parallel slots) or lower prefixTokens/suffixTokens",
            info.request_tokens,
            need,
        )
