"""The outbound HTTP client: timeouts everywhere, retries with backoff only for what surely did
not happen remotely, or is harmless to repeat."""

from __future__ import annotations

import httpx
import pytest

from referrals.core.http import (HttpClient, OutcomeUnknown, RemoteRefused, RemoteUnavailable,
                                 http_client, remote_request_id)
from tests.requests.fixtures import override_settings  # noqa: F401

URL = "https://remote.invalid/api/reports"


class Script:
    """A fake remote that answers from a list (an exception is raised instead of answering)."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def _client(script: Script, retries: int = 3) -> HttpClient:
    return HttpClient(retries=retries, backoff=0, transport=httpx.MockTransport(script))


def test_a_connection_that_fails_is_retried_then_answers():
    script = Script(httpx.ConnectError("refused"), httpx.Response(503),
                    httpx.Response(201, json={"id": "R-1"}, headers={"X-Request-ID": "req-9"}))
    response = _client(script).request("POST", URL, json={"a": 1})
    assert response.json() == {"id": "R-1"} and remote_request_id(response) == "req-9"
    assert len(script.requests) == 3


def test_it_gives_up_after_the_retries():
    script = Script(*[httpx.ConnectError("refused")] * 3)
    with pytest.raises(RemoteUnavailable, match="Could not reach remote.invalid"):
        _client(script, retries=2).request("GET", URL)
    assert len(script.requests) == 3


def test_a_post_without_a_key_whose_answer_is_lost_is_not_repeated():
    script = Script(httpx.ReadTimeout("no answer"), httpx.Response(200))
    with pytest.raises(OutcomeUnknown, match="did not answer"):
        _client(script).request("POST", URL, json={})
    assert len(script.requests) == 1


def test_a_server_error_on_a_post_may_have_happened():
    script = Script(httpx.Response(500, headers={"X-Request-ID": "req-5"}), httpx.Response(200))
    with pytest.raises(OutcomeUnknown) as raised:
        _client(script).request("POST", URL)
    assert raised.value.status == 500 and raised.value.request_id == "req-5"
    assert len(script.requests) == 1


def test_a_post_with_an_idempotency_key_is_repeated_with_the_same_key():
    script = Script(httpx.ReadTimeout("no answer"), httpx.Response(200))
    _client(script).request("POST", URL, idempotency_key="k-123")
    assert [r.headers["Idempotency-Key"] for r in script.requests] == ["k-123", "k-123"]


def test_a_refusal_is_not_retried():
    script = Script(httpx.Response(422, headers={"X-Request-ID": "req-7"}), httpx.Response(200))
    with pytest.raises(RemoteRefused) as raised:
        _client(script).request("POST", URL, idempotency_key="k")
    assert (raised.value.status, raised.value.request_id) == (422, "req-7")
    assert len(script.requests) == 1


def test_the_apps_client_has_its_timeouts(app, override_settings):
    override_settings(http_timeout_seconds=2.5, http_retries=1)
    with http_client() as client:
        timeout = client._client.timeout
        assert (timeout.connect, timeout.read, timeout.write, timeout.pool) == (2.5,) * 4
        assert client.retries == 1

