"""What every emulated provider endpoint shares: fault handling, paths, redirects."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from . import conf, faults
from .envelopes import fault_answer, gateway_timeout

View = Callable[..., HttpResponse]


def provider_api(provider: str) -> Callable[[View], View]:
    """Mark a view as a provider API endpoint.

    It is CSRF-exempt (third parties call it), every call is counted, and an
    injected fault answers instead of the view when one matches.
    """

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
            fault = faults.record_call(provider=provider, path=relative_path(request))
            if fault is None:
                return view(request, *args, **kwargs)
            if fault.kind == "timeout":
                return _time_out(fault)
            return fault_answer(fault)

        return csrf_exempt(wrapper)

    return decorate


def _time_out(fault: faults.Fault) -> HttpResponse:
    """In process: answer at once with a marked 504 that the router turns into ReadTimeout.

    Raising instead would cross Django's test client, which re-raises a view's
    exception in the outer (hub) request too. Over HTTP: hold, then 504.
    """
    if faults.in_process.get():
        response = gateway_timeout(fault)
        response[faults.TIMEOUT_MARKER] = fault.id
        return response
    time.sleep(conf.timeout_seconds())
    return gateway_timeout(fault)


def mount_path() -> str:
    """Where the sandbox is mounted in the URLconf, with a trailing slash (``/sandbox/``)."""
    return reverse("sandbox:index")


def relative_path(request: HttpRequest) -> str:
    """The request path below the sandbox mount, starting with ``/``."""
    mount = mount_path()
    path = request.path
    return "/" + path[len(mount) :] if path.startswith(mount) else path


def with_params(url: str, params: dict[str, str | None]) -> str:
    """``url`` with ``params`` added to its query (``None`` values are left out)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(key, value) for key, value in params.items() if value is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))


def redirect_allowed(uri: str) -> bool:
    """Only to the hub (or configured prefixes): real providers check registered URIs."""
    return bool(uri) and any(uri.startswith(prefix) for prefix in conf.redirect_uri_prefixes())


def bearer_token(request: HttpRequest) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() in {"bearer", "oauth"} else ""
