"""Reporting an engine's failure once.

While the engine is down every keystroke would fail the same way; the user hears about it once
(an `EngineError`), then completions are quietly empty, and the log says when it works again.
"""

from __future__ import annotations

import logging
import threading
import time

from lsp_server.engine.base import EngineError
from lsp_server.engine.remote.transport import EngineDown

log = logging.getLogger(__name__)


class ProblemGate:
    """Report each failure once, stay quiet while it lasts, and log when the engine is back.

    While the engine is down a request is still let through now and then (exponential backoff up
    to ``max_probe_s``) so that recovery is noticed without a connect attempt per keystroke.
    """

    def __init__(self, label: str, first_probe_s: float = 0.5, max_probe_s: float = 5.0) -> None:
        self._label = label
        self._lock = threading.Lock()
        self._problem: str | None = None  # the key of the problem being reported, if any
        self._message = ""
        self._first_probe_s = first_probe_s
        self._max_probe_s = max_probe_s
        self._probe_s = first_probe_s
        self._next_try = 0.0

    def may_try(self) -> bool:
        """False while a known problem lasts and the next probe is not due yet."""
        with self._lock:
            return self._problem is None or time.monotonic() >= self._next_try

    def failed(self, err: EngineError) -> None:
        """Raise ``err`` if it is news; otherwise log it at debug level and return."""
        with self._lock:
            down = isinstance(err, EngineDown)
            self._next_try = time.monotonic() + (self._probe_s if down else 0.0)
            if down:
                self._probe_s = min(self._probe_s * 2, self._max_probe_s)
            if self._problem == _problem_key(err):
                log.debug("%s: still failing: %s", self._label, err)
                return
            self._problem, self._message = _problem_key(err), str(err)
        log.info("%s: %s (reported once until it works again)", self._label, err)
        raise err

    def mark(self, err: EngineError) -> None:
        """Record a problem the caller reports itself (``load`` raises every time)."""
        with self._lock:
            self._problem, self._message = _problem_key(err), str(err)
            self._next_try = time.monotonic() + (
                self._probe_s if isinstance(err, EngineDown) else 0
            )

    def succeeded(self) -> None:
        with self._lock:
            was, self._problem = self._problem, None
            self._probe_s = self._first_probe_s
        if was is not None:
            log.info("%s: working again (was: %s)", self._label, self._message)


def _problem_key(err: EngineError) -> str:
    """Every way of being down is one problem: refused, timed out and dropped read the same."""
    return "down" if isinstance(err, EngineDown) else str(err)
