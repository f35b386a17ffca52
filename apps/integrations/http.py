"""The base every provider client builds on: timeouts, retries, typed errors, call log.

A product's ``client.py`` subclasses :class:`ProviderClient` and overrides four
hooks: :meth:`~ProviderClient.prepare` (authentication and signing, run again
for every attempt because signatures carry timestamps),
:meth:`~ProviderClient.classify` (the provider's answer -> a typed error or
None), :meth:`~ProviderClient.request_id_of` and
:meth:`~ProviderClient.provider_code_of`. Everything else lives here:

- one ``requests.Session`` per client with a pooled ``HTTPAdapter``, and
  ``(connect, read)`` timeouts on every call;
- retries with exponential backoff and full jitter on connection errors,
  timeouts, throttling (HTTP 429 or a throttle code inside HTTP 200) and
  transient server errors (5xx, 408), **only for calls safe to repeat**:
  GET/HEAD/PUT/DELETE/OPTIONS by default, never POST/PATCH unless the caller
  says so. ``Retry-After`` wins over the computed delay; every delay is capped
  at ``backoff_max``;
- an expired token is refreshed once per :meth:`~ProviderClient.request` and
  the call sent once more, even when it is not repeatable (the provider
  refused the first attempt, so nothing happened);
- a request budget per developer app (:mod:`.ratelimit`) spent before every
  attempt;
- one :class:`~apps.integrations.models.ApiCallLog` row and one INFO log line
  per attempt, with the path only (never the query string), never a body,
  never a token.

Error messages go through :func:`~apps.integrations.redaction.redact_text`
when the error is built, so ``str(exc)`` is safe to store and show.
"""

from __future__ import annotations

import json as jsonlib
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter

from .redaction import redact_text, register_secret

if TYPE_CHECKING:
    from apps.tenants.models import Tenant

logger = logging.getLogger(__name__)

#: Methods whose calls may be sent again without changing the outcome.
REPEATABLE_METHODS: frozenset[str] = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
#: HTTP statuses that say "try again later".
TRANSIENT_STATUSES: frozenset[int] = frozenset({408, 429})

USER_AGENT = "integrations-hub/0.1 (+python-requests)"


# --- errors ---------------------------------------------------------------------------


def _rebuild_error(cls: type[ProviderError], message: str, state: dict) -> ProviderError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class ProviderError(Exception):
    """A provider refused or failed a call.

    ``code`` is the provider's own error code, ``request_id`` the id its
    support asks for. ``transient`` says whether trying again later may
    succeed; left unset it follows the HTTP status (5xx and 408 are
    transient). The message is redacted when the error is built.
    """

    #: None: decided by ``status_code``; subclasses pin it.
    default_transient: ClassVar[bool | None] = None

    def __init__(
        self,
        message: object,
        *,
        code: object = "",
        request_id: object = "",
        status_code: int | None = None,
        retry_after: float | None = None,
        transient: bool | None = None,
    ) -> None:
        self.message = redact_text(message)
        self.code = "" if code is None else str(code)
        self.request_id = "" if request_id is None else str(request_id)
        self.status_code = status_code
        self.retry_after = retry_after
        if transient is None:
            transient = self.default_transient
        if transient is None:
            transient = status_code is not None and (
                status_code >= 500 or status_code in TRANSIENT_STATUSES
            )
        self.transient = bool(transient)
        super().__init__(self.message)

    def __str__(self) -> str:
        details = []
        if self.code:
            details.append(f"code {self.code}")
        if self.request_id:
            details.append(f"request id {self.request_id}")
        return f"{self.message} ({', '.join(details)})" if details else self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, code={self.code!r}, "
            f"request_id={self.request_id!r}, status_code={self.status_code!r})"
        )

    def __reduce__(self):
        # Keyword-only arguments defeat the default pickling (django-q2 pickles results).
        return (_rebuild_error, (type(self), self.message, dict(self.__dict__)))


class TokenExpired(ProviderError):
    """The access token expired or is invalid: refresh once and retry once, or reconnect."""

    default_transient = False


class RateLimited(ProviderError):
    """HTTP 429 or a throttle code inside the envelope; ``retry_after`` when known."""

    default_transient = True


class PermissionDenied(ProviderError):
    """The token lacks a scope, or the user has no permission on the object."""

    default_transient = False


class TransportError(ProviderError):
    """No answer: connection refused or reset, DNS, TLS, or a timeout, after the retries allowed."""

    default_transient = True


def parse_retry_after(value: object) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds or an HTTP date."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        return max(float(text), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


# --- responses --------------------------------------------------------------------------


@dataclass(frozen=True)
class ProviderResponse:
    """A successful answer, parsed."""

    status_code: int
    headers: Mapping[str, str]
    body: Any  # parsed JSON (dict/list) or None
    request_id: str
    provider_code: str


@dataclass
class _Prepared:
    method: str
    url: str
    params: dict
    headers: dict
    body: bytes | None


def _encode_body(*, json: Any, data: Any) -> tuple[bytes | None, str | None]:
    """The request body as the exact bytes that are signed and sent, and its content type."""
    if json is not None:
        text = jsonlib.dumps(json, separators=(",", ":"), ensure_ascii=False)
        return text.encode("utf-8"), "application/json"
    if data is None:
        return None, None
    if isinstance(data, bytes):
        return data, None
    if isinstance(data, str):
        return data.encode("utf-8"), None
    return urlencode(list(data.items()), doseq=True).encode(), "application/x-www-form-urlencoded"


def _parse_json(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _transport_message(exc: requests.RequestException, *, method: str, path: str) -> str:
    """What went wrong, without the URL: requests' messages repeat the query string."""
    if isinstance(exc, requests.ConnectTimeout):
        reason = "connect timeout"
    elif isinstance(exc, requests.ReadTimeout):
        reason = "read timeout"
    elif isinstance(exc, requests.Timeout):
        reason = "timeout"
    elif isinstance(exc, requests.exceptions.SSLError):
        reason = "TLS error"
    elif isinstance(exc, requests.ConnectionError):
        reason = "connection error"
    else:
        reason = type(exc).__name__
    return f"{method} {path} failed: {reason}"


# --- the client ---------------------------------------------------------------------------


class ProviderClient:
    """HTTP to one provider for one tenant's token (or for the app alone)."""

    #: registry key of the product, e.g. "tiktok_ads"; names the call log rows and the budget
    product: ClassVar[str] = ""
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    #: total attempts for calls safe to repeat
    max_attempts: int = 4
    #: seconds; attempt n waits up to backoff_base * 2**(n-1) (full jitter), at most backoff_max
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    #: (requests, per_seconds) for the whole developer app, shared by every process
    rate_limit: tuple[int, float] | None = None
    #: longest wait for the budget before giving up with RateLimited
    rate_limit_max_wait: float = 30.0
    #: connections kept per host by the session's pool
    pool_maxsize: int = 10

    def __init__(
        self,
        *,
        base_url: str,
        tenant: Tenant | None = None,
        access_token: str | None = None,
        token_refresher: Callable[[], str] | None = None,
        rate_key: str = "",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.tenant = tenant
        self.access_token = access_token
        self.token_refresher = token_refresher
        self.rate_key = rate_key
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=self.pool_maxsize, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        #: injectable for tests: record delays instead of waiting, move a fake clock
        self._sleep: Callable[[float], None] = time.sleep
        self._clock: Callable[[], float] = time.time

    # --- token ------------------------------------------------------------------------------

    @property
    def access_token(self) -> str | None:
        return self._access_token

    @access_token.setter
    def access_token(self, value: str | None) -> None:
        # Every token the client holds is registered, so no log line can show it.
        register_secret(value)
        self._access_token = value

    def __repr__(self) -> str:
        return f"<{type(self).__name__} product={self.product!r} base_url={self.base_url!r}>"

    # --- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> ProviderClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- hooks ------------------------------------------------------------------------------

    def prepare(
        self,
        *,
        method: str,
        url: str,
        params: dict,
        headers: dict,
        body: bytes | None,
        authenticated: bool,
    ) -> tuple[str, dict, dict]:
        """Add auth / signing. Called again for EVERY attempt (signatures carry timestamps).

        The default sends the token as ``Authorization: Bearer``.
        """
        if authenticated and self.access_token:
            headers["Authorization"] = f"Bearer {self.access_token}"
        return url, params, headers

    def classify(self, *, status_code: int, body: Any, headers: Mapping) -> ProviderError | None:
        """Map an answer to a typed error, or None when it is a success.

        Default, by HTTP status alone: 401 -> TokenExpired, 403 ->
        PermissionDenied, 429 -> RateLimited (``Retry-After`` honoured), 5xx
        and 408 -> transient ProviderError, other 4xx -> ProviderError.
        """
        if status_code < 400:
            return None
        message = (
            _body_message(body) or f"{self.product or 'The provider'} answered HTTP {status_code}"
        )
        kwargs: dict[str, Any] = {
            "code": self.provider_code_of(body=body),
            "request_id": self.request_id_of(body=body, headers=headers),
            "status_code": status_code,
        }
        if status_code == 401:
            return TokenExpired(message, **kwargs)
        if status_code == 403:
            return PermissionDenied(message, **kwargs)
        if status_code == 429:
            return RateLimited(
                message, retry_after=parse_retry_after(_header(headers, "Retry-After")), **kwargs
            )
        return ProviderError(message, **kwargs)

    def request_id_of(self, *, body: Any, headers: Mapping) -> str:
        """The provider's id of this request: ``request_id`` in the body, else ``X-Request-Id``."""
        if isinstance(body, Mapping) and body.get("request_id"):
            return str(body["request_id"])
        return str(_header(headers, "X-Request-Id") or "")

    def provider_code_of(self, *, body: Any) -> str:
        """The provider's own result code (``code`` in the body), or ""."""
        if isinstance(body, Mapping) and body.get("code") is not None:
            return str(body["code"])
        return ""

    # --- the call ---------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping | None = None,
        json: Any = None,
        data: Mapping | None = None,
        headers: Mapping | None = None,
        repeatable: bool | None = None,
        authenticated: bool = True,
        base_url: str | None = None,
    ) -> ProviderResponse:
        """Send one logical call: budget, prepare, send, classify, retry or refresh as allowed.

        ``path`` is joined to ``base_url`` (or the client's); a full URL is
        used as is. Parameters whose value is None are dropped before signing.
        Raises the typed error of the last attempt.
        """
        method = method.upper()
        if repeatable is None:
            repeatable = method in REPEATABLE_METHODS
        url = self._url(path, base_url)
        body, content_type = _encode_body(json=json, data=data)
        clean_params = {k: v for k, v in (params or {}).items() if v is not None}
        refreshed = False
        attempt = 0  # every attempt, for the log
        tries = 0  # attempts that count against max_attempts
        while True:
            attempt += 1
            tries += 1
            self._spend_budget()
            call_headers = dict(headers or {})
            if content_type and not any(k.lower() == "content-type" for k in call_headers):
                call_headers["Content-Type"] = content_type
            prepared = self._prepare(
                method, url, dict(clean_params), call_headers, body, authenticated
            )
            outcome = self._send(prepared, attempt=attempt)
            if isinstance(outcome, ProviderResponse):
                return outcome
            error = outcome
            if isinstance(error, TokenExpired):
                if authenticated and self.token_refresher is not None and not refreshed:
                    refreshed = True
                    self.access_token = self.token_refresher()
                    tries -= 1  # the refused attempt did nothing; the retry is not a "try again"
                    continue
                raise error
            if not (repeatable and error.transient and tries < self.max_attempts):
                raise error
            if error.retry_after is not None and error.retry_after > self.backoff_max:
                # The provider asks for longer than a worker should hold a call open
                # (TikTok's per-minute and per-day limits, Meta's regain-access estimates):
                # give up now, and let the caller's run resume after the wait.
                raise error
            self._sleep(self._delay(tries, error))

    # --- internals --------------------------------------------------------------------------

    def _url(self, path: str, base_url: str | None) -> str:
        if path.startswith(("https://", "http://")):
            return path
        base = (base_url or self.base_url).rstrip("/")
        return f"{base}/{path.lstrip('/')}"

    def _prepare(
        self,
        method: str,
        url: str,
        params: dict,
        headers: dict,
        body: bytes | None,
        authenticated: bool,
    ) -> _Prepared:
        url, params, headers = self.prepare(
            method=method,
            url=url,
            params=params,
            headers=headers,
            body=body,
            authenticated=authenticated,
        )
        return _Prepared(method=method, url=url, params=params, headers=headers, body=body)

    def _spend_budget(self) -> None:
        if not self.rate_limit:
            return
        from .ratelimit import acquire  # ratelimit imports this module's errors

        limit, per_seconds = self.rate_limit
        try:
            acquire(
                product=self.product,
                key=self.rate_key,
                limit=limit,
                per_seconds=per_seconds,
                max_wait=self.rate_limit_max_wait,
                sleep=self._sleep,
                clock=self._clock,
            )
        except RateLimited:
            raise
        except Exception as exc:
            # The cache is down: the provider still throttles us, and that is handled.
            logger.warning(
                "rate budget unavailable product=%s: %s (calling anyway)",
                self.product,
                type(exc).__name__,
            )

    def _send(self, prepared: _Prepared, *, attempt: int) -> ProviderResponse | ProviderError:
        """One attempt, logged and recorded; the answer, or the typed error it amounts to."""
        path = urlsplit(prepared.url).path or "/"
        started = time.monotonic()
        try:
            raw = self.session.request(
                prepared.method,
                prepared.url,
                params=prepared.params,
                data=prepared.body,
                headers=prepared.headers,
                timeout=(self.connect_timeout, self.read_timeout),
            )
        except requests.RequestException as exc:
            duration_ms = int((time.monotonic() - started) * 1000)
            error = TransportError(_transport_message(exc, method=prepared.method, path=path))
            self._record(prepared, path, None, "", "", duration_ms, attempt, error)
            return error
        duration_ms = int((time.monotonic() - started) * 1000)
        body = _parse_json(raw)
        request_id = self.request_id_of(body=body, headers=raw.headers)
        provider_code = self.provider_code_of(body=body)
        error = self.classify(status_code=raw.status_code, body=body, headers=raw.headers)
        if error is not None and error.retry_after is None:
            error.retry_after = parse_retry_after(_header(raw.headers, "Retry-After"))
        self._record(
            prepared, path, raw.status_code, provider_code, request_id, duration_ms, attempt, error
        )
        if error is not None:
            return error
        return ProviderResponse(
            status_code=raw.status_code,
            headers=raw.headers,
            body=body,
            request_id=request_id,
            provider_code=provider_code,
        )

    def _record(
        self,
        prepared: _Prepared,
        path: str,
        status_code: int | None,
        provider_code: str,
        request_id: str,
        duration_ms: int,
        attempt: int,
        error: ProviderError | None,
    ) -> None:
        from .calllog import api_call_record  # calllog imports the models

        logger.info(
            "provider call product=%s method=%s path=%s status=%s code=%s request_id=%s "
            "duration_ms=%d attempt=%d outcome=%s",
            self.product,
            prepared.method,
            redact_text(path),
            status_code if status_code is not None else "-",
            provider_code or "-",
            request_id or "-",
            duration_ms,
            attempt,
            type(error).__name__ if error is not None else "ok",
        )
        api_call_record(
            tenant=self.tenant,
            product=self.product,
            method=prepared.method,
            url=prepared.url,
            status_code=status_code,
            provider_code=provider_code,
            request_id=request_id,
            duration_ms=duration_ms,
            attempt=attempt,
            error=str(error) if error is not None else "",
        )

    def _delay(self, tries: int, error: ProviderError) -> float:
        """Seconds before the next try: the provider's ``Retry-After``, else jittered backoff."""
        if error.retry_after is not None:
            return min(max(error.retry_after, 0.0), self.backoff_max)
        ceiling = min(self.backoff_max, self.backoff_base * (2 ** (tries - 1)))
        return self._jitter(ceiling)

    def _jitter(self, ceiling: float) -> float:
        """Full jitter: anywhere in ``[0, ceiling]``, so throttled workers do not retry in step."""
        return random.uniform(0.0, ceiling)  # noqa: S311 - not cryptographic


def _header(headers: Mapping | None, name: str) -> Any:
    if not headers:
        return None
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        for key, candidate in headers.items():
            if str(key).lower() == lowered:
                return candidate
    return value


def _body_message(body: Any) -> str:
    """A human message from a JSON error body, when it has an obvious one."""
    if not isinstance(body, Mapping):
        return ""
    for key in ("message", "error_description", "error_message"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
    error = body.get("error")
    if isinstance(error, Mapping):
        value = error.get("message")
        return value if isinstance(value, str) else ""
    return error if isinstance(error, str) else ""
