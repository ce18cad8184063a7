"""Retrying a request that never reached the engine.

Only connect errors are retried: the server has seen nothing, so sending again cannot run a
generation twice. A short backoff covers an engine that is restarting; a job's cancel ends
the wait early.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import httpx

from lsp_server.engine.base import CancelToken

log = logging.getLogger(__name__)

CONNECT_RETRIES = 2
RETRY_BACKOFF_S = 0.1


def send_with_retry(
    send: Callable[[], httpx.Response],
    retries: int,
    cancel: CancelToken | None,
    label: str,
) -> httpx.Response:
    """``send()``, tried again up to ``retries`` times after a connect error, with backoff.

    Raises the last httpx error; the caller maps it to an `EngineDown`.
    """
    for attempt in range(retries + 1):
        try:
            return send()
        except (httpx.ConnectError, httpx.ConnectTimeout) as err:
            delay = RETRY_BACKOFF_S * (3**attempt)
            cancelled = cancel is not None and cancel.cancelled
            if attempt == retries or cancelled:
                raise
            log.debug("%s: connect failed (%s); retrying in %.2fs", label, err, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
