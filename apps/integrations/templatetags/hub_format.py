"""Locale-aware figures for the hub's templates: ``{% load hub_format %}``.

``{{ amount|money:currency }}`` formats a sum of money for the active
language: the locale's decimal and thousands separators (Django's number
formatting and ``config/formats``), the currency's minor units, and the
currency shown as the language writes it. The layout and the symbol come from
the translation catalog: English keeps the hub's plain ``1012.34 USD``;
Brazilian Portuguese writes ``R$ 1.012,34`` and ``US$ 1.012,34``. A currency
the catalog has no symbol for is shown by its ISO code.

The project does not depend on Babel; these few rules cover what the hub
shows (amounts from the providers with an ISO 4217 code beside them).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template
from django.utils.formats import number_format
from django.utils.translation import pgettext, pgettext_lazy

register = template.Library()

#: ISO 4217 currencies without minor units (shown without decimals).
ZERO_DECIMAL_CURRENCIES = frozenset({"CLP", "COP", "IDR", "ISK", "JPY", "KRW", "PYG", "VND"})

#: Symbols a language writes instead of the code; the msgstr is the symbol
#: (pt-BR: R$, US$, €), the English msgstr is the code itself.
CURRENCY_SYMBOLS = {
    "BRL": pgettext_lazy("currency symbol", "BRL"),
    "USD": pgettext_lazy("currency symbol", "USD"),
    "EUR": pgettext_lazy("currency symbol", "EUR"),
    "GBP": pgettext_lazy("currency symbol", "GBP"),
    "MXN": pgettext_lazy("currency symbol", "MXN"),
}

EMPTY = "—"


def _to_decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None


def format_number(value, decimal_pos: int | None = None) -> str:
    """A number with the active language's separators (``1.234,56`` in pt-BR)."""
    number = _to_decimal(value)
    if number is None:
        return EMPTY
    return number_format(number, decimal_pos=decimal_pos, use_l10n=True, force_grouping=True)


def format_money(amount, currency: str | None) -> str:
    """``amount`` in ``currency`` for the active language; ``—`` when there is no amount."""
    number = _to_decimal(amount)
    if number is None:
        return EMPTY
    code = (currency or "").strip().upper()
    places = 0 if code in ZERO_DECIMAL_CURRENCIES else 2
    figure = format_number(number, places)
    if not code:
        return figure
    symbol = str(CURRENCY_SYMBOLS[code]) if code in CURRENCY_SYMBOLS else code
    # Translators: how an amount and its currency are written; pt-BR puts the symbol first.
    return pgettext("money", "%(amount)s %(currency)s") % {"amount": figure, "currency": symbol}


@register.filter
def money(amount, currency=None) -> str:
    """``{{ order.total_amount|money:order.currency }}``."""
    return format_money(amount, currency)


@register.filter
def number(value, decimal_pos=None) -> str:
    """``{{ metric|number }}`` or ``{{ rate|number:2 }}``: grouped per the active language."""
    places = None if decimal_pos in (None, "") else int(decimal_pos)
    return format_number(value, places)


__all__ = ["format_money", "format_number", "money", "number"]
