"""Parsing helpers shared by the provider views."""

from __future__ import annotations

import json
import math
from typing import Any

from django.http import HttpRequest


class BadParam(ValueError):
    """A request parameter is missing or malformed; the message is the provider's."""


def json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadParam("Invalid JSON in the request body.") from exc
    if not isinstance(body, dict):
        raise BadParam("The request body must be a JSON object.")
    return body


def json_param(request: HttpRequest, name: str, *, default: Any = None) -> Any:
    """A query parameter holding JSON (TikTok encodes arrays and objects this way)."""
    raw = request.GET.get(name)
    if raw in (None, ""):
        return default
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise BadParam(f"{name}: Not a valid JSON value.") from exc


def int_param(request: HttpRequest, name: str, *, default: int, low: int, high: int) -> int:
    raw = request.GET.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise BadParam(f"{name}: Not a valid integer.") from exc
    if not low <= value <= high:
        raise BadParam(f"{name}: Must be between {low} and {high}.")
    return value


def page_of(items: list, *, page: int, page_size: int) -> tuple[list, dict[str, int]]:
    """One page and the Marketing API's ``page_info``."""
    total = len(items)
    start = (page - 1) * page_size
    info = {
        "page": page,
        "page_size": page_size,
        "total_number": total,
        "total_page": math.ceil(total / page_size),
    }
    return items[start : start + page_size], info
