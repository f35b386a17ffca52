"""Filters for the inline SVG charts."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def svgnum(value: object) -> str:
    """A coordinate as SVG wants it: a dot for decimals whatever the language (no localisation)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "0"
    return f"{number:.1f}".rstrip("0").rstrip(".")
