"""Number formatting for the Content page: ``12345 -> 12.3K``."""

from __future__ import annotations

from django import template
from django.utils.formats import number_format

register = template.Library()

_STEPS = ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "K"))


@register.filter
def compact(value: object) -> str:
    """A count in at most four significant characters; small numbers as they are."""
    try:
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return ""
    for step, suffix in _STEPS:
        if abs(number) >= step:
            return f"{number_format(round(number / step, 1), decimal_pos=1)}{suffix}"
    return str(number)
