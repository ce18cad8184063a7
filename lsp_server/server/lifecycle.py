"""The server's lifecycle: settings from their sources, the engine's load with progress, its status."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from lsp_server.config import SECTION, Settings, SettingsSources
from lsp_server.engine import EngineError
from lsp_server.engine.host import EngineHost

log = logging.getLogger(__name__)

# An Invoked request (the user pressed the key) waits this long for a model still loading.
LOAD_WAIT_S = 60.0
# A shared engine that was down is retried at most this often.
REMOTE_RETRY_S = 10.0

STATUS_NOTIFICATION = "fimLsp/status"


class Lifecycle:
    """Puts the settings in force on ``host`` and (re)loads its engine, telling the client."""

    def __init__(self, server: LanguageServer, host: EngineHost, sources: SettingsSources) -> None:
        self._server = server
        self.host = host
        self.sources = sources
        self._shown: set[str] = set()
        self._load_task: asyncio.Task[None] | None = None
        self._last_load = 0.0

    @property
    def settings(self) -> Settings:
        return self.host.settings

    # -- settings ----------------------------------------------------------------------------

    def initialize(self, options: Any) -> None:
        """``initializationOptions``: the settings object itself, or ``{"fimLsp": {...}}``."""
        if isinstance(options, dict) and isinstance(options.get(SECTION), dict):
            options = options[SECTION]
        self.sources.init_options = options
        self._apply_settings()

    def _apply_settings(self) -> bool:
        """Recompute settings from all sources; True when the engine must be reloaded."""
        result = self.sources.resolve()
        for problem in result.problems:
            self.show_once(f"fim-lsp settings: {problem}", types.MessageType.Warning)
        return self.host.reconfigure(result.settings)

    def _supports_configuration(self) -> bool:
        ws = self._server.client_capabilities.workspace
        return bool(ws and ws.configuration)

    async def pull_configuration(self) -> None:
        if not self._supports_configuration():
            return
        try:
            items = await asyncio.wait_for(
                self._server.workspace_configuration_async(
                    types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)])
                ),
                timeout=5,
            )
        except Exception as err:  # a client that fails this request must not stop the server
            log.warning("workspace/configuration failed: %s", err)
            return
        value = items[0] if items else None
        self.sources.workspace = value if isinstance(value, dict) else None

    async def initialized(self) -> None:
        await self.pull_configuration()
        self._apply_settings()
        self.start_loading()

    async def configuration_changed(self, settings: Any) -> None:
        """Clients may send ``settings: null`` (nvim-lspconfig): always re-pull."""
        if isinstance(settings, dict) and isinstance(settings.get(SECTION), dict):
            self.sources.workspace = settings[SECTION]
        await self.pull_configuration()
        self._shown.clear()  # new settings: their problems deserve a new message
        if self._apply_settings() or (self.host.error is not None):
            self.start_loading()
        self.send_status()

    # -- engine loading ------------------------------------------------------------------------

    def start_loading(self) -> None:
        if self._load_task is not None and not self._load_task.done():
            self._load_task.cancel()
        self._load_task = asyncio.ensure_future(self._load())

    async def _load(self) -> None:
        self._last_load = time.monotonic()
        self.send_status("loading")
        progress = await self._progress_reporter(f"fim-lsp: loading {self.settings.engine.model}")
        try:
            info = await self.host.load(progress.report)
        except EngineError as err:
            progress.end(f"failed: {err}")
            self.show_once(f"fim-lsp: {err.user_message()}", types.MessageType.Error)
            self.send_status("error", err.user_message())
            return
        progress.end("ready")
        log.info("engine ready: %s (%s, FIM %s)", info.model, info.backend, info.fim_format)
        self.send_status("ready")

    async def _progress_reporter(self, title: str) -> _Progress:
        caps = self._server.client_capabilities.window
        token: str | None = None
        if caps and caps.work_done_progress:
            token = f"fim-lsp-load-{uuid.uuid4()}"
            try:
                await asyncio.wait_for(self._server.work_done_progress.create_async(token), timeout=5)
            except Exception as err:
                log.debug("progress create failed: %s", err)
                token = None
        return _Progress(self._server, token, title, asyncio.get_running_loop())

    async def ready(self, wait: bool) -> bool:
        """Whether a feature may serve now. ``wait``: the user asked (an Invoked request), so wait
        for a model still loading."""
        if not self.settings.serving.enabled:
            return False
        if not self.host.ready:
            self._retry_remote_load()
            if wait:
                await self._wait_loaded(LOAD_WAIT_S)
        return self.host.ready

    async def _wait_loaded(self, timeout: float) -> None:
        """Wait for the engine while a load runs, or until the first one starts (initialized
        pulls the configuration first). A cancelled request stops waiting; the load goes on."""
        deadline = time.monotonic() + timeout
        while not self.host.ready and (left := deadline - time.monotonic()) > 0:
            task = self._load_task
            if task is None and self.host.error is None:
                await asyncio.sleep(min(0.05, left))
            elif task is not None and not task.done():
                await asyncio.wait([task], timeout=left)
            else:
                return  # the load failed; the user was told

    def _retry_remote_load(self) -> None:
        """A shared engine that was down at start-up may be back: retry now and then."""
        loading = self._load_task is not None and not self._load_task.done()
        if (self.host.remote and not loading and self.host.error is not None
                and time.monotonic() - self._last_load > REMOTE_RETRY_S):
            self.start_loading()

    def stop_loading(self) -> None:
        if self._load_task is not None and not self._load_task.done():
            self._load_task.cancel()

    # -- what the client is told -------------------------------------------------------------

    def send_status(self, state: str | None = None, message: str = "") -> None:
        if state is None:
            state = "ready" if self.host.ready else ("error" if self.host.error else "loading")
            message = self.host.error.user_message() if self.host.error else ""
        if not self.settings.serving.enabled:
            state = "disabled"
        self._server.protocol.notify(STATUS_NOTIFICATION,
                                     {"state": state, "message": message, "model": self.settings.engine.model})

    def show_once(self, message: str, kind: types.MessageType = types.MessageType.Error) -> None:
        if message in self._shown:
            return
        self._shown.add(message)
        log.warning("%s", message)
        self._server.window_show_message(types.ShowMessageParams(type=kind, message=message))


class _Progress:
    """Work-done progress fed from the worker thread; a no-op when the client lacks support."""

    def __init__(self, server: LanguageServer, token: str | None, title: str, loop: asyncio.AbstractEventLoop) -> None:
        self._server, self._token, self._loop = server, token, loop
        self._last = 0.0
        if token is not None:
            server.work_done_progress.begin(token, types.WorkDoneProgressBegin(title=title, percentage=0))

    def report(self, message: str, percentage: int | None) -> None:
        now = time.monotonic()
        if self._token is None or (now - self._last < 0.2 and percentage not in (0, 100)):
            return
        self._last = now
        value = types.WorkDoneProgressReport(message=message, percentage=percentage)
        self._call(lambda: self._server.work_done_progress.report(self._token, value))  # type: ignore[arg-type]

    def end(self, message: str) -> None:
        if self._token is not None:
            token = self._token
            self._call(lambda: self._server.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message)))

    def _call(self, fn: Callable[[], None]) -> None:
        self._loop.call_soon_threadsafe(fn)
