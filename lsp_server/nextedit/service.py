"""`NextEditService`, the next-edit feature's one entry point. No pygls here.

It keeps the edit history (fed from every ``didChange`` on the event loop) and runs one
prediction at a time on the engine's worker thread (`predict.py`), under a key of its own
(``nextedit:<uri>``), submitted as yielding so any completion job cancels it. It plays for
next-edit the part `CompletionService` plays for completion, on the shared engine host and worker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar

from lsp_server.config import Settings
from lsp_server.documents import Snapshot
from lsp_server.engine.base import CancelToken, Engine, EngineError, EngineInfo
from lsp_server.engine.worker import StaleJob
from lsp_server.nextedit.history import EditHistory
from lsp_server.nextedit.predict import Options, Prediction, predict
from lsp_server.nextedit.prompt import NoEditFormat

log = logging.getLogger(__name__)
T = TypeVar("T")
KEY = "nextedit:"


class Host(Protocol):
    """The engine in force (the shared engine host)."""

    @property
    def engine(self) -> Engine | None: ...

    @property
    def info(self) -> EngineInfo | None: ...

    @property
    def settings(self) -> Settings: ...


class Worker(Protocol):
    """The engine's one worker thread, with stale-job dropping by key."""

    async def submit(self, key: str, fn: Callable[[CancelToken], T], yields: bool = False) -> T: ...

    def cancel(self, key: str) -> None: ...


@dataclass(frozen=True)
class NextEditQuery:
    doc: Snapshot
    cursor: int  # string offset in ``doc.text``
    paths: Callable[[str], str]  # URI -> the path the model sees


class NextEditService:
    def __init__(self, host: Host, worker: Worker, options: Options | None = None) -> None:
        self._host = host
        self._worker = worker
        self._options = options or Options()
        self.history = EditHistory()
        self._running: set[str] = set()
        self._unsupported = ""  # why the engine cannot rewrite, once known

    @property
    def enabled(self) -> bool:
        return self._host.settings.serving.next_edit

    # -- documents (event loop) --------------------------------------------------------------

    def changed(self, old: Snapshot, new: Snapshot, whole: bool) -> None:
        """One ``didChange``: the history grows; a running prediction for the document is stale."""
        self.history.record(old, new, whole)
        self.cancel(new.uri)

    def forget(self, uri: str) -> None:
        self.history.forget(uri)
        self.cancel(uri)

    def cancel(self, uri: str) -> None:
        self._worker.cancel(KEY + uri)

    def yield_to_completion(self) -> None:
        """Stop running predictions (any other engine job also does: they are submitted as
        yielding, `EngineWorker.submit`)."""
        for key in list(self._running):
            self._worker.cancel(key)

    # -- predictions -------------------------------------------------------------------------

    async def suggest(self, query: NextEditQuery) -> Prediction:
        """The edits that follow the user's recent ones near the cursor; none when there is
        nothing to follow, the feature is off, or the engine cannot rewrite."""
        engine, info = self._host.engine, self._host.info
        if not self.enabled or engine is None or info is None or self._unsupported or not info.capabilities.local:
            return Prediction([])  # remote engines cannot rewrite yet (RemoteEngine.rewrite)
        hunks = self.history.recent(query.doc.uri)
        if not any(h.uri == query.doc.uri for h in hunks):
            return Prediction([])
        key = KEY + query.doc.uri

        options = replace(self._options, budget_s=self._host.settings.serving.next_edit_budget_ms / 1000)

        def run(cancel: CancelToken) -> Prediction:
            return predict(engine, info, query.doc, query.cursor, hunks, query.paths, cancel, options)

        self._running.add(key)
        try:
            return await self._worker.submit(key, run, yields=True)
        except NoEditFormat as err:
            self._unsupported = str(err)
            log.warning("next-edit suggestions are off for this model: %s", err)
        except EngineError as err:
            log.warning("next-edit prediction failed: %s", err)
        except StaleJob:
            pass  # a newer request or a completion made it stale before it ran
        finally:
            self._running.discard(key)
        return Prediction([])
