"""Normalise customer information and hash it with SHA-256, as the platforms match it.

One normaliser per field, pinned by the worked vectors of the contracts
(meta.md §3.3-3.4, tiktok-ads.md §5) in ``tests/test_hashing.py``. The two
Meta libraries disagree on names, cities and external ids (contract §3.3);
where they do, this module follows Meta's own table:

- **email** (Meta ``em``, TikTok ``email``): trimmed, lowercased.
- **phone**: digits only, international prefix and leading zeros dropped,
  **with the country code** (Meta: ``16505551212``; TikTok: E.164 with the
  plus, ``+16505551212``). Meta's SDK does not add the country code and so
  hashes ``6505551212``, which matches nobody (contract §0.5). A value that
  starts with ``+`` or ``00`` already carries its country code; so do WhatsApp
  ``wa_id`` values (digits, no plus). Anything else is a national number and
  needs ``country_code``.
- **first/last name, city**: lowercase, no punctuation or spaces; letters
  outside ASCII are kept as UTF-8 (``valéry``), as Meta's table asks.
- **state**: two-letter code lowercased (``SP`` -> ``sp``).
- **country**: ISO 3166 alpha-2 lowercased; the few English names the hub
  meets are mapped (``United States`` -> ``us``).
- **date of birth**: ``YYYYMMDD`` from ``M/D/YYYY``, ``YYYY-MM-DD`` or ``YYYYMMDD``.
- **external id**: trimmed, lowercased, hashed (both platforms recommend
  hashing it; the same hash on every channel).

A value that already looks like a SHA-256 hex digest is passed through
(lowercased), as both Meta SDKs do, so hashing twice is harmless. Click ids
(``ctwa_clid``, ``ttclid``, ``fbc``) and Meta ids (``whatsapp_business_account_id``)
are never hashed: a hashed click id is accepted but attributes nowhere.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import date

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_NOT_DIGIT = re.compile(r"\D")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

#: Country names (lowercased, letters only) the hub meets -> ISO 3166 alpha-2.
COUNTRY_NAMES: dict[str, str] = {
    "unitedstates": "us",
    "unitedstatesofamerica": "us",
    "usa": "us",
    "brazil": "br",
    "brasil": "br",
    "portugal": "pt",
    "mexico": "mx",
    "méxico": "mx",
    "argentina": "ar",
    "unitedkingdom": "gb",
    "canada": "ca",
    "spain": "es",
    "españa": "es",
}


class NormalisationError(ValueError):
    """The value cannot be normalised for this field (an e-mail without ``@``, a bad date)."""


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def is_hashed(value: str) -> bool:
    return bool(_SHA256.match(value.strip().lower()))


def normalize_email(value: str) -> str:
    email = value.strip().lower()
    if not _EMAIL.match(email):
        raise NormalisationError("not an e-mail address")
    return email


def normalize_phone(value: str, *, country_code: str = "") -> str:
    """Digits with the country code and without ``+``/``00``/leading zeros: ``16505551212``.

    ``country_code`` (digits, e.g. ``"1"``, ``"55"``) is prepended to national
    numbers only: values written with ``+`` or ``00`` keep theirs. Without
    ``country_code`` the digits are taken as international already (WhatsApp
    ``wa_id``).
    """
    raw = value.strip()
    digits = _NOT_DIGIT.sub("", raw)
    international = raw.startswith("+") or raw.startswith("00")
    digits = digits.lstrip("0")
    if not international and country_code:
        code = _NOT_DIGIT.sub("", country_code)
        digits = f"{code}{digits}"
    if len(digits) < 7 or len(digits) > 15:
        raise NormalisationError("not a phone number")
    return digits


def normalize_phone_e164(value: str, *, country_code: str = "") -> str:
    """TikTok's form: E.164 with the plus, ``+16505551212``."""
    return "+" + normalize_phone(value, country_code=country_code)


def _letters_only(value: str) -> str:
    """Lowercase, NFC, with every character that is not a letter or a digit removed."""
    text = unicodedata.normalize("NFC", value.strip().lower())
    return "".join(ch for ch in text if ch.isalnum())


def normalize_name(value: str) -> str:
    name = _letters_only(value)
    if not name:
        raise NormalisationError("empty name")
    return name


def normalize_city(value: str) -> str:
    city = "".join(ch for ch in _letters_only(value) if not ch.isdigit())
    if not city:
        raise NormalisationError("empty city")
    return city


def normalize_state(value: str) -> str:
    state = _letters_only(value)
    if not state:
        raise NormalisationError("empty state")
    return state


def normalize_country(value: str) -> str:
    text = _letters_only(value)
    if len(text) == 2 and text.isascii():
        return text
    try:
        return COUNTRY_NAMES[text]
    except KeyError:
        raise NormalisationError("unknown country") from None


def normalize_date_of_birth(value: str) -> str:
    """``YYYYMMDD`` from ``M/D/YYYY`` (Meta's example), ``YYYY-MM-DD`` or ``YYYYMMDD``."""
    text = value.strip()
    try:
        if "/" in text:
            month, day, year = (int(part) for part in text.split("/"))
        elif "-" in text:
            year, month, day = (int(part) for part in text.split("-"))
        elif len(text) == 8 and text.isdigit():
            year, month, day = int(text[:4]), int(text[4:6]), int(text[6:])
        else:
            raise ValueError(text)
        return date(year, month, day).strftime("%Y%m%d")
    except ValueError:
        raise NormalisationError("not a date") from None


def normalize_external_id(value: str) -> str:
    text = value.strip().lower()
    if not text:
        raise NormalisationError("empty external id")
    return text


def hash_normalized(value: str, normalize) -> str:
    """SHA-256 of ``normalize(value)``; a value already hashed passes through."""
    if is_hashed(value):
        return value.strip().lower()
    return sha256_hex(normalize(value))


def hash_email(value: str) -> str:
    return hash_normalized(value, normalize_email)


def hash_phone_meta(value: str, *, country_code: str = "") -> str:
    return hash_normalized(value, lambda v: normalize_phone(v, country_code=country_code))


def hash_phone_tiktok(value: str, *, country_code: str = "") -> str:
    return hash_normalized(value, lambda v: normalize_phone_e164(v, country_code=country_code))


def hash_external_id(value: str) -> str:
    return hash_normalized(value, normalize_external_id)


def hash_name(value: str) -> str:
    return hash_normalized(value, normalize_name)


def hash_city(value: str) -> str:
    return hash_normalized(value, normalize_city)


def hash_state(value: str) -> str:
    return hash_normalized(value, normalize_state)


def hash_country(value: str) -> str:
    return hash_normalized(value, normalize_country)


def hash_date_of_birth(value: str) -> str:
    return hash_normalized(value, normalize_date_of_birth)


def mask(value: str, *, keep: int = 2) -> str:
    """For log lines: ``jo***@***`` style, never the whole value."""
    text = str(value or "")
    if not text:
        return ""
    if "@" in text:
        local, _, _domain = text.partition("@")
        return f"{local[:keep]}***@***"
    return f"{text[:keep]}***{text[-keep:]}" if len(text) > 2 * keep + 2 else "***"
