"""Rendering the emulated consent screens (normal HTML forms, CSRF-protected)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from . import generator
from .models import Provider


@dataclass(frozen=True)
class ScopeChoice:
    value: str
    checked: bool = True
    required: bool = False


def render_consent(
    request: HttpRequest, *, provider: str, app_name: str, **context: Any
) -> HttpResponse:
    context.setdefault("identities", generator.identities(provider))
    return render(
        request,
        "sandbox/consent.html",
        {
            "provider_label": Provider(provider).label,
            "app_name": app_name,
            "action": request.get_full_path(),
            **context,
        },
    )


def render_error(
    request: HttpRequest, *, provider: str, message: str, status: int = 400
) -> HttpResponse:
    context = {"provider_label": Provider(provider).label, "message": message}
    return render(request, "sandbox/error.html", context, status=status)


def chosen_identity(request: HttpRequest, provider: str) -> generator.Identity | None:
    """The identity picked on the form; None when the value is not one of the sandbox's."""
    return generator.identity(provider, request.POST.get("account_id", ""))
