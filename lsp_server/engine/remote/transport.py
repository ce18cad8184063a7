"""The HTTP client of one remote engine: timeouts, error mapping, retries, abortable streams.

Errors become `EngineError`s with a hint the user can act on; `EngineDown` marks the ones
worth retrying later (unreachable, dropped, overloaded).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from lsp_server.engine.base import CancelToken, EngineError
from lsp_server.engine.remote.retry import CONNECT_RETRIES, send_with_retry
from lsp_server.engine.remote.watch import StreamWatch

CONNECT_TIMEOUT_S = 3.0
# Between two streamed chunks; prompt processing of a long prompt on a busy shared server can take
# a while; a cancel or the job's time budget (enforced by StreamWatch) is the real limit.
READ_TIMEOUT_S = 30.0


class EngineDown(EngineError):
    """The engine cannot be reached or dropped the connection: worth retrying later."""


def _error_text(response: httpx.Response) -> str:
    """The server's own error message: llama-server, OpenAI and Ollama all send JSON errors."""
    try:
        body = response.json()
    except (ValueError, httpx.ResponseNotRead):
        return response.text[:200].strip() if response.is_stream_consumed else ""
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            return str(err.get("message") or err.get("type") or err)
        return str(err)
    return str(body)[:200]


class HttpTransport:
    """A sync httpx client bound to one engine's base URL, with our error mapping and retries."""

    def __init__(
        self,
        base_url: str,
        label: str,
        headers: dict[str, str] | None = None,
        down_hint: str = "",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.label = label
        self._down_hint = down_hint
        self._client = self._new_client(headers, keepalive=True)
        # Generation streams get a connection each: its socket is then known from the moment it
        # opens (see StreamWatch.trace), and an aborted stream never leaves a pooled connection.
        self._stream_client = self._new_client(headers, keepalive=False)
        self._retry = True  # no retries while the engine is known to be down

    def _new_client(self, headers: dict[str, str] | None, keepalive: bool) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            headers=headers or {},
            timeout=httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
            limits=httpx.Limits(max_keepalive_connections=None if keepalive else 0),
            # Don't pick up proxies from the environment for what is usually a LAN/localhost host.
            trust_env=False,
        )

    def set_retry(self, enabled: bool) -> None:
        self._retry = enabled

    def close(self) -> None:
        self._client.close()
        self._stream_client.close()

    def get_json(self, path: str, timeout: float | None = None) -> Any:
        response = self._send("GET", path, None, timeout)
        return self._json(response)

    def post_json(self, path: str, body: dict[str, Any], timeout: float | None = None) -> Any:
        response = self._send("POST", path, body, timeout)
        return self._json(response)

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as err:
            raise EngineError(
                f"{self.label} at {self.base_url} sent a reply that is not JSON",
                "Check the URL and the backend setting.",
            ) from err

    def _send(
        self, method: str, path: str, body: dict[str, Any] | None, timeout: float | None
    ) -> httpx.Response:
        kwargs: dict[str, Any] = {"json": body} if body is not None else {}
        if timeout is not None:
            kwargs["timeout"] = httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT_S))
        response = self._with_retry(
            lambda: self._client.request(method, path, **kwargs), None
        )
        self.raise_for_status(response)
        return response

    @contextlib.contextmanager
    def stream(
        self,
        path: str,
        body: dict[str, Any],
        cancel: CancelToken,
        budget_s: float | None = None,
    ) -> Iterator[tuple[Iterator[str], StreamWatch]]:
        """POST ``body`` and yield the response lines and the watch that may abort them.

        Leaving the block closes the response (and with it the connection when unread), which is
        how an early stop reaches the server.
        """
        watch = StreamWatch(cancel, budget_s)
        request = self._stream_client.build_request(
            "POST", path, json=body, extensions={"trace": watch.trace}
        )
        watch.start()
        try:
            try:
                response = self._with_retry(
                    lambda: self._stream_client.send(request, stream=True), cancel
                )
            except EngineDown:
                if watch.reason is None:
                    raise
                yield iter(()), watch  # we closed it while the server processed the prompt
                return
            try:
                if response.status_code >= 400:
                    response.read()
                    self.raise_for_status(response)
                yield self._lines(response, watch), watch
            finally:
                watch.stop()
                response.close()
        finally:
            watch.stop()

    def _lines(self, response: httpx.Response, watch: StreamWatch) -> Iterator[str]:
        try:
            yield from response.iter_lines()
        except (httpx.TransportError, httpx.StreamError) as err:
            if watch.reason is not None:
                return  # we closed it ourselves
            raise self._down(err) from err

    def _with_retry(
        self, send: Callable[[], httpx.Response], cancel: CancelToken | None
    ) -> httpx.Response:
        retries = CONNECT_RETRIES if self._retry else 0
        try:
            return send_with_retry(send, retries, cancel, self.label)
        except httpx.TransportError as err:
            raise self._down(err) from err

    def _down(self, err: Exception) -> EngineDown:
        if isinstance(err, httpx.ConnectError | httpx.ConnectTimeout):
            what = "cannot be reached"
        elif isinstance(err, httpx.TimeoutException):
            what = "did not answer in time"
        else:
            what = "dropped the connection"
        return EngineDown(
            f"{self.label} at {self.base_url} {what} ({type(err).__name__}).", self._down_hint
        )

    def raise_for_status(self, response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        detail = _error_text(response)
        status = response.status_code
        if status in (401, 403):
            raise EngineError(
                f"{self.label} at {self.base_url} refused the request ({status}: {detail}).",
                "Check the API key (the environment variable named by the apiKeyEnv setting).",
            )
        if status == 503:
            # llama-server answers 503 while it loads the model; Ollama and vLLM when overloaded.
            raise EngineDown(
                f"{self.label} at {self.base_url} is not ready ({detail}).", self._down_hint
            )
        raise EngineError(f"{self.label} at {self.base_url} answered {status}: {detail}", "")
