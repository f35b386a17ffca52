"""The one place that decides what a log line, a screen or an error may show.

Every API call log row, webhook inbox excerpt, admin screen and exception
message goes through these functions, so a token, a signing secret, an OAuth
code or a buyer's e-mail never leaves the process in clear text.

Three layers, from cheapest to broadest:

- **By key**: :func:`is_sensitive_key` says which field, query parameter or
  header names carry secrets or PII (:data:`SENSITIVE_KEYS`, plus any name
  ending in ``_token``, ``_secret``, ``_password`` or ``_signature``).
  :func:`redact_mapping`, :func:`redact_url` and :func:`redact_headers` use it
  on structured data.
- **By value**: the process keeps the secrets it is currently using (the HTTP
  client registers the access token it holds and the app secret it signs with,
  see :func:`register_secret`); :func:`redact_text` replaces each of them
  wherever it appears.
- **By shape**: ``Bearer`` credentials, Fernet ciphertexts, JWTs, Meta user
  tokens (``EAA...``), Login Kit tokens (``act.``/``rft.``), e-mail addresses
  and ``key=value`` pairs whose key is sensitive are replaced even when nobody
  registered them.

``code`` is ambiguous: it is the OAuth authorization code (a secret) and the
error code of every provider envelope (``{"code": 40100}``, which people need
to see). A ``code`` value is therefore redacted unless it is a number or a
``snake_case`` word such as ``"ok"`` or ``"invalid_grant"``.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote_plus, urlsplit, urlunsplit

REDACTED = "[redacted]"

#: Field, query parameter and header names whose values are never shown.
#: Compared case-insensitively, with ``-`` and ``_`` treated alike.
SENSITIVE_KEYS: frozenset[str] = frozenset(
    {
        # credentials and signatures
        "access_token",
        "refresh_token",
        "id_token",
        "token",
        "secret",
        "app_secret",
        "client_secret",
        "password",
        "passwd",
        "sign",
        "signature",
        "appsecret_proof",
        "code",
        "auth_code",
        "code_verifier",
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-tts-access-token",
        "access-token",
        "api_key",
        "apikey",
        "x-api-key",
        "private_key",
        "input_token",
        "fb_exchange_token",
        # personal data
        "email",
        "email_address",
        "phone",
        "phone_number",
        "mobile",
        "first_name",
        "last_name",
        "full_name",
        "address",
        "street",
        "postal_code",
        "zip_code",
        "zipcode",
        "date_of_birth",
        "birthday",
        "ip",
        "ip_address",
        "client_ip_address",
        # Meta Conversions API user_data keys (hashed, still personal data)
        "em",
        "ph",
        "fn",
        "ln",
        "db",
        "zp",
    }
)

#: Any name ending like this is sensitive too (``shop_cipher`` is not: it is an id).
SENSITIVE_SUFFIXES: tuple[str, ...] = ("_token", "_secret", "_password", "_signature")

#: Keys that are secrets only when their value does not look like an error code.
AMBIGUOUS_KEYS: frozenset[str] = frozenset({"code"})

#: At most this many registered secrets are kept (the most recent ones): a
#: process uses a handful of tokens at a time, and every log line is checked
#: against each of them.
MAX_REGISTERED_SECRETS = 1024
#: Shorter values are not registered: replacing "abc" everywhere would shred logs.
MIN_SECRET_LENGTH = 8


def _normalise(key: object) -> str:
    return str(key).strip().lower().replace("-", "_")


_SENSITIVE_NORMALISED = frozenset(_normalise(key) for key in SENSITIVE_KEYS)
_AMBIGUOUS_NORMALISED = frozenset(_normalise(key) for key in AMBIGUOUS_KEYS)
# Provider error codes: 40100, 36009002, "ok", "invalid_grant", "rate_limit_exceeded".
# OAuth codes carry digits or capitals, so they never look like this.
_ERROR_CODE = re.compile(r"^(?:-?\d{1,12}|[a-z]{1,30}(?:_[a-z]{1,30}){0,5})$")


def is_sensitive_key(key: object) -> bool:
    """Whether values under this field, parameter or header name must be hidden."""
    name = _normalise(key)
    return name in _SENSITIVE_NORMALISED or name.endswith(SENSITIVE_SUFFIXES)


def _must_hide(key: object, value: Any) -> bool:
    """Whether ``value`` under ``key`` is hidden; empty values tell nothing and stay."""
    if value is None or value == "" or not is_sensitive_key(key):
        return False
    if _normalise(key) in _AMBIGUOUS_NORMALISED:
        if isinstance(value, bool | int | float):
            return False
        return not _ERROR_CODE.match(str(value))
    return True


# --- registered secrets -------------------------------------------------------------

_secrets: OrderedDict[str, None] = OrderedDict()
_secrets_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a secret this process uses so every redaction removes it verbatim.

    The HTTP client registers the access token it holds and the app secret it
    signs with. Values shorter than :data:`MIN_SECRET_LENGTH` are ignored.
    """
    if not value or len(value) < MIN_SECRET_LENGTH:
        return
    with _secrets_lock:
        _secrets[value] = None
        _secrets.move_to_end(value)
        while len(_secrets) > MAX_REGISTERED_SECRETS:
            _secrets.popitem(last=False)


def unregister_secret(value: str | None) -> None:
    """Forget a secret (a revoked token); unknown values are ignored."""
    with _secrets_lock:
        _secrets.pop(value or "", None)


def registered_secrets() -> tuple[str, ...]:
    """The secrets currently registered, oldest first."""
    with _secrets_lock:
        return tuple(_secrets)


# --- text ---------------------------------------------------------------------------

_BEARER = re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=\-]{6,}")
_FERNET = re.compile(r"gAAAAA[A-Za-z0-9_\-]{20,}={0,2}")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*")
_META_TOKEN = re.compile(r"\bEAA[A-Za-z0-9]{20,}")
_LOGIN_KIT_TOKEN = re.compile(r"\b(?:act|rft)\.[A-Za-z0-9!._\-]{16,}")
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}\b")


# key=value, key: value, "key": "value" -- the key decides, see _must_hide.
def _key_alternatives() -> str:
    """A regex alternation of every sensitive key, with ``-`` and ``_`` alike."""
    names = sorted(_SENSITIVE_NORMALISED, key=len, reverse=True)
    flexible = [re.escape(name).replace("_", "[-_]") for name in names]
    suffixes = "|".join(re.escape(s[1:]) for s in SENSITIVE_SUFFIXES)
    return "|".join([*flexible, rf"[A-Za-z0-9_\-]*[-_](?:{suffixes})"])


# Only a sensitive name can be the key, so a harmless pair ("https:", "Error:")
# never swallows the sensitive one that follows it.
_PAIR = re.compile(
    r"(?i)(?<![A-Za-z0-9_\-])"
    rf"(?P<key>{_key_alternatives()})"
    r"(?![A-Za-z0-9_\-])"
    r"(?P<sep>[\"']?\s*[:=]\s*[\"']?)"
    r"(?P<value>[^\s\"'&,;}\])]+)"
)
# App secrets, signatures and SHA-256 hashes of personal data are long hex runs
# (40+); provider request ids (about 34) stay readable for support.
_LONG_HEX = re.compile(r"\b[0-9a-fA-F]{40,}\b")


def _redact_pair(match: re.Match[str]) -> str:
    value = match.group("value")
    if value.startswith(REDACTED[:-1]) or not _must_hide(match.group("key"), value):
        return match.group(0)
    return f"{match.group('key')}{match.group('sep')}{REDACTED}"


def redact_text(text: object, *, secrets: Iterable[str] = ()) -> str:
    """``text`` with every known secret and every credential-shaped run replaced.

    Known secrets are ``secrets`` plus those registered with
    :func:`register_secret`; longer ones are replaced first so a secret that
    contains another one disappears whole.
    """
    result = "" if text is None else str(text)
    if not result:
        return result
    present = {
        s
        for s in (*secrets, *registered_secrets())
        if s and len(s) >= MIN_SECRET_LENGTH and s in result
    }
    for secret in sorted(present, key=len, reverse=True):
        result = result.replace(secret, REDACTED)
    result = _BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", result)
    result = _FERNET.sub(REDACTED, result)
    result = _JWT.sub(REDACTED, result)
    result = _META_TOKEN.sub(REDACTED, result)
    result = _LOGIN_KIT_TOKEN.sub(REDACTED, result)
    result = _EMAIL.sub(REDACTED, result)
    result = _LONG_HEX.sub(REDACTED, result)
    return _PAIR.sub(_redact_pair, result)


# --- structures -----------------------------------------------------------------------


def redact_mapping(obj: Any) -> Any:
    """A copy of ``obj`` (dicts and lists, nested) with sensitive values replaced.

    Values under sensitive keys become ``"[redacted]"`` whatever their type;
    other strings go through :func:`redact_text`, which catches a token echoed
    in a message or a URL.
    """
    if isinstance(obj, Mapping):
        return {
            key: REDACTED if _must_hide(key, value) else redact_mapping(value)
            for key, value in obj.items()
        }
    if isinstance(obj, list | tuple):
        return type(obj)(redact_mapping(item) for item in obj)
    if isinstance(obj, str):
        return redact_text(obj)
    return obj


def _redact_query(query: str) -> str:
    pieces = []
    for piece in query.split("&"):
        key, sep, value = piece.partition("=")
        if sep and _must_hide(unquote_plus(key), unquote_plus(value)):
            piece = f"{key}={REDACTED}"
        pieces.append(piece)
    return "&".join(pieces)


def redact_url(url: str) -> str:
    """``url`` with scheme, host and path kept and sensitive query values hidden.

    A password in the authority (``user:pass@host``) is hidden too, and so is
    a fragment carrying parameters (implicit OAuth flows put tokens there).
    """
    parts = urlsplit(str(url))
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        netloc = f"{user}:{REDACTED}@{host}" if ":" in userinfo else f"{REDACTED}@{host}"
    fragment = _redact_query(parts.fragment) if "=" in parts.fragment else parts.fragment
    return urlunsplit(
        (parts.scheme, netloc, redact_text(parts.path), _redact_query(parts.query), fragment)
    )


def redact_headers(headers: Mapping[str, Any] | None) -> dict[str, Any]:
    """A plain dict of ``headers`` with credential and cookie values hidden."""
    return {
        key: REDACTED if is_sensitive_key(key) and value not in (None, "") else value
        for key, value in (headers or {}).items()
    }


# --- logging ---------------------------------------------------------------------------


class RedactingFilter(logging.Filter):
    """Redacts every record that passes through it, message and traceback alike.

    Attach it to the handlers in ``LOGGING`` (``"filters": {"redact": {"()":
    "apps.integrations.redaction.RedactingFilter"}}``): a filter on a handler
    sees the records of every logger, a filter on a logger only its own.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is logging's problem, not ours
            return True
        redacted = redact_text(message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True
