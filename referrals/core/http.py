"""Outbound HTTP: one small client for every call that leaves the building.

httpx with a timeout on every phase (connect, write, read, pool), and retries with
exponential backoff (tenacity) for a call that surely did not happen remotely: the
connection was never made, or the remote said "not now" (429, 503). A call that was sent
and got no answer may have happened; it is retried only when repeating it is harmless (an
idempotent method, or an ``Idempotency-Key`` header the remote deduplicates on), and
otherwise raised as ``OutcomeUnknown`` for the caller to reconcile, never repeated blindly.
"""

from __future__ import annotations

from typing import Any

import httpx
from flask import current_app
from tenacity import (Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
# Answers that say the remote did not do it now: asking again later is safe.
TRY_LATER = frozenset({429, 503})
# Where a remote puts the id it gave our call (kept with a remote step's outcome).
REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-amzn-requestid", "x-correlation-id")


class RemoteError(Exception):
    """A call to a remote service did not succeed. ``message`` is plain language."""

    def __init__(self, message: str, *, status: int | None = None,
                 request_id: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.request_id = request_id


class RemoteUnavailable(RemoteError):
    """The call surely did not happen (no connection, or the remote said try later)."""


class RemoteRefused(RemoteError):
    """The remote answered and refused (4xx): it did not happen and will not as asked."""


class OutcomeUnknown(RemoteError):
    """The call was sent and no usable answer came back: it may have happened remotely."""


def remote_request_id(response: httpx.Response) -> str | None:
    for name in REQUEST_ID_HEADERS:
        if response.headers.get(name):
            return response.headers[name][:120]
    return None


class HttpClient:
    """``request`` returns a 2xx ``httpx.Response`` or raises a ``RemoteError``."""

    def __init__(self, *, timeout: float = 10.0, retries: int = 3, backoff: float = 0.5,
                 transport: httpx.BaseTransport | None = None,
                 headers: dict[str, str] | None = None):
        self.retries = retries
        self.backoff = backoff
        self._client = httpx.Client(timeout=httpx.Timeout(timeout), transport=transport,
                                    headers=headers, follow_redirects=False)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, url: str, *, idempotency_key: str | None = None,
                **kwargs: Any) -> httpx.Response:
        method = method.upper()
        headers = dict(kwargs.pop("headers", None) or {})
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        repeatable = method in IDEMPOTENT_METHODS or bool(idempotency_key)

        def worth_retrying(error: BaseException) -> bool:
            return isinstance(error, RemoteUnavailable) or (
                repeatable and isinstance(error, OutcomeUnknown))

        retrying = Retrying(
            stop=stop_after_attempt(self.retries + 1),
            wait=wait_exponential_jitter(multiplier=self.backoff, max=max(self.backoff * 16, 0.001),
                                         jitter=self.backoff),
            retry=retry_if_exception(worth_retrying), reraise=True)
        return retrying(self._once, method, url, headers, repeatable, kwargs)

    def _once(self, method: str, url: str, headers: dict, repeatable: bool,
              kwargs: dict) -> httpx.Response:
        try:
            response = self._client.request(method, url, headers=headers, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            raise RemoteUnavailable(f"Could not reach {_host(url)}: {_reason(error)}.") from error
        except httpx.TransportError as error:  # sent, or partly: the outcome is unknown
            raise OutcomeUnknown(f"{_host(url)} did not answer: {_reason(error)}.") from error
        request_id = remote_request_id(response)
        status = response.status_code
        if status < 300:
            return response
        if status in TRY_LATER:
            raise RemoteUnavailable(f"{_host(url)} is busy (HTTP {status}); try again later.",
                                    status=status, request_id=request_id)
        if status < 500:
            raise RemoteRefused(f"{_host(url)} refused the call (HTTP {status}).",
                                status=status, request_id=request_id)
        # A server error after the request arrived: it may have done part of the work.
        raise OutcomeUnknown(f"{_host(url)} failed (HTTP {status}).", status=status,
                             request_id=request_id)


def http_client(**overrides: Any) -> HttpClient:
    """A client with the application's timeout and retries (``REFERRALS_HTTP_…``)."""
    settings = current_app.config["REFERRALS_SETTINGS"]
    options: dict[str, Any] = {"timeout": settings.http_timeout_seconds,
                               "retries": settings.http_retries}
    options.update(overrides)
    return HttpClient(**options)


def _host(url: str) -> str:
    try:
        return httpx.URL(url).host or url
    except Exception:  # noqa: BLE001 (a bad URL is described, not raised here)
        return url


def _reason(error: Exception) -> str:
    return str(error) or type(error).__name__
