"""Route ``requests`` calls to the sandbox in process, for tests.

``sandbox_http()`` starts a ``responses`` mock (or joins one you already have)
that sends every request whose URL starts with ``settings.SANDBOX_BASE_URL``
through ``django.test.Client`` to the sandbox views: method, path, query,
body and headers go in; status, headers and body come back. Anything else is
refused by ``responses`` with ``ConnectionError``: no test reaches the network.

A ``timeout`` fault answers in process with a 504 marked by
``faults.TIMEOUT_MARKER``, which the router turns into
``requests.exceptions.ReadTimeout``.

In a conftest::

    from apps.sandbox.testing import sandbox_fixture

    @pytest.fixture
    def sandbox(db):
        yield from sandbox_fixture()
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import requests
import responses
from django.conf import settings
from django.test import Client

from . import faults
from .api import mount_path

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
#: Headers Django's test client sets itself from ``data``/``content_type``.
_SKIPPED_HEADERS = {"content-type", "content-length", "host"}


def _dispatch(request: requests.PreparedRequest) -> tuple[int, dict, bytes] | Exception:
    """Send one prepared request to the sandbox views and return what they answered."""
    base = settings.SANDBOX_BASE_URL
    path = mount_path().rstrip("/") + request.url[len(base) :]
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode()
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _SKIPPED_HEADERS}
    content_type = request.headers.get("Content-Type") or "application/octet-stream"
    token = faults.in_process.set(True)
    try:
        response = Client().generic(
            request.method, path, data=body, content_type=content_type, headers=headers
        )
    finally:
        faults.in_process.reset(token)
    if response.has_header(faults.TIMEOUT_MARKER):
        fault_id = response[faults.TIMEOUT_MARKER]
        return requests.exceptions.ReadTimeout(f"sandbox fault {fault_id}", request=request)
    return response.status_code, dict(response.items()), response.content


class _SandboxRoute(responses.CallbackResponse):
    """One route for every method under the sandbox base URL."""

    def matches(self, request: requests.PreparedRequest) -> tuple[bool, str]:
        if request.method not in METHODS:
            return False, "Method does not match"
        if not self._url_matches(self.url, str(request.url)):
            return False, "URL does not match"
        return True, ""


def register(mock: responses.RequestsMock) -> responses.BaseResponse:
    """Add the sandbox route to an existing ``responses`` mock; returns it for removal."""
    pattern = re.compile(re.escape(settings.SANDBOX_BASE_URL) + r"(?:[/?#].*)?$")
    return mock.add(_SandboxRoute("GET", pattern, callback=_dispatch, content_type=None))


@contextmanager
def sandbox_http(
    mock: responses.RequestsMock | None = None,
) -> Iterator[responses.RequestsMock]:
    """Route sandbox URLs in process for the duration of the block.

    Pass ``mock`` to add the route to a ``responses`` mock you already run (only
    one can patch ``requests`` at a time); the route is removed again when the
    block ends, so an unused route never trips ``assert_all_requests_are_fired``.
    Otherwise a new mock is started for the block.
    """
    if mock is not None:
        route = register(mock)
        try:
            yield mock
        finally:
            mock.remove(route)
        return
    with responses.RequestsMock(assert_all_requests_are_fired=False) as own:
        register(own)
        yield own


@dataclass
class SandboxHarness:
    """What a test gets: the ``responses`` mock plus the fault API."""

    mock: responses.RequestsMock
    base_url: str

    inject = staticmethod(faults.inject)
    calls = staticmethod(faults.calls)
    clear = staticmethod(faults.clear)

    def url(self, path: str) -> str:
        """An absolute sandbox URL, e.g. ``url("/tiktok-ads/open_api/v1.3/campaign/get/")``."""
        return self.base_url + path


def sandbox_fixture() -> Iterator[SandboxHarness]:
    """The body of a pytest fixture: clean faults, route in process, clean again.

    The caller's fixture must depend on ``db`` (the sandbox keeps its state in
    the database and the cache).
    """
    faults.clear()
    try:
        with sandbox_http() as mock:
            yield SandboxHarness(mock=mock, base_url=settings.SANDBOX_BASE_URL)
    finally:
        faults.clear()
