"""Security headers on every page, nothing inline that the CSP would block, production settings.

- Every page the hub serves (the URL conf walked like the form fuzzer does,
  signed in as a tenant owner) carries the strict Content-Security-Policy,
  ``X-Frame-Options: DENY``, ``Referrer-Policy`` and ``nosniff``, and its HTML
  has no inline ``<script>``, ``<style>``, ``style=`` or ``on*=`` handler.
- Every template in the project is scanned for the same, so a branch a test
  does not render cannot hide one.
- With ``DJANGO_ENV=production``: HSTS (with subdomains and preload), the
  HTTPS redirect and secure cookies are on (``check --deploy`` itself runs in
  ``tests/test_settings.py``).

The browser tests (``tests/browser/conftest.py``) fail on any CSP violation
Chromium reports, which proves htmx works under the policy.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.urls import reverse

from apps.integrations.registry import providers

from .test_fuzz_forms import OBJECT_FACTORIES, PATH_EXAMPLES, _urls
from .test_settings import manage

ROOT = Path(__file__).resolve().parent.parent

#: what would run or style the page from inside the HTML; the CSP refuses all of it
INLINE = re.compile(
    r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle\s*=\s*[\"']|\son[a-z]+\s*=\s*[\"']",
    re.IGNORECASE,
)


def _csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def _assert_strict_csp(response, where: str) -> None:
    header = response.headers.get("Content-Security-Policy", "")
    assert header, f"{where}: no Content-Security-Policy header"
    csp = _csp_directives(header)
    assert csp.get("default-src") == ["'self'"], (where, header)
    assert csp.get("script-src") == ["'self'"], (where, header)
    assert csp.get("style-src") == ["'self'"], (where, header)
    assert csp.get("object-src") == ["'none'"], (where, header)
    assert csp.get("frame-ancestors") == ["'none'"], (where, header)
    assert "'unsafe-inline'" not in header and "'unsafe-eval'" not in header, (where, header)


def _page_paths(tenant, make_member) -> list[tuple[str, str]]:
    """A GET path for every page: own objects for ids, the first example for other parameters."""
    paths = []
    made: dict = {}  # one object per factory: some create a tenant's only connection
    for name, pattern in sorted(_urls().items()):
        converters = pattern.pattern.converters
        if name in OBJECT_FACTORIES:
            factory = OBJECT_FACTORIES[name]
            if factory not in made:
                made[factory] = factory(tenant, make_member)
            kwargs = made[factory]
        elif converters:
            examples = PATH_EXAMPLES.get(name, {})
            if not set(converters) <= set(examples):
                continue  # reported by test_fuzz_forms.test_every_url_can_be_fuzzed
            product = sorted(p.key for p in providers.all())[0]
            kwargs = {key: product if key == "product" else "sample" for key in converters}
        else:
            kwargs = {}
        paths.append((name, reverse(name, kwargs=kwargs)))
    return paths


@pytest.mark.django_db
def test_every_page_has_the_security_headers_and_nothing_inline(
    owner_client, tenant_a, make_member, sandbox
):
    checked = 0
    for name, path in _page_paths(tenant_a, make_member):
        for headers in ({}, {"HX-Request": "true"}):
            response = owner_client.get(path, headers=headers)
            assert response.status_code < 500, (name, path)
            where = f"{name} {path} {headers or ''} -> {response.status_code}"
            _assert_strict_csp(response, where)
            assert response.headers.get("X-Frame-Options") == "DENY", where
            assert response.headers.get("Referrer-Policy") == "same-origin", where
            assert response.headers.get("X-Content-Type-Options") == "nosniff", where
            if "text/html" in response.headers.get("Content-Type", ""):
                html = response.content.decode()
                found = INLINE.findall(html)
                assert not found, f"{where}: inline code the CSP refuses: {found[:3]}"
                checked += 1
    assert checked > 20, checked


@pytest.mark.django_db
def test_login_page_and_errors_carry_the_policy(client):
    _assert_strict_csp(client.get(reverse("tenants:login")), "login")
    _assert_strict_csp(client.get("/no-such-page/"), "404")


def test_no_template_has_inline_scripts_or_styles():
    offenders = []
    for path in [*ROOT.glob("templates/**/*.html"), *ROOT.glob("apps/*/templates/**/*.html")]:
        text = re.sub(r"{#.*?#}|{% comment %}.*?{% endcomment %}", "", path.read_text(), flags=re.S)
        for match in INLINE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            offenders.append(f"{path.relative_to(ROOT)}:{line}: {match.group(0).strip()}")
    assert not offenders, (
        "inline code the Content-Security-Policy refuses (move it to a static .js/.css file): "
        + "; ".join(offenders)
    )


def test_htmx_is_configured_for_the_policy():
    base = (ROOT / "templates/base.html").read_text()
    config = re.search(r"""<meta name="htmx-config" content='([^']*)'>""", base)
    assert config, "templates/base.html must configure htmx with <meta name='htmx-config'>"
    assert json.loads(config.group(1)) == {
        "includeIndicatorStyles": False,
        "allowEval": False,
        "allowScriptTags": False,
    }
    assert ".htmx-indicator" in (ROOT / "static/css/hub.css").read_text()


PRODUCTION_SETTINGS = (
    "from django.conf import settings as s; import json; print(json.dumps({k: getattr(s, k) for k in "
    "['DEBUG', 'SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', 'SECURE_HSTS_PRELOAD', "
    "'SECURE_SSL_REDIRECT', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SESSION_COOKIE_HTTPONLY', "
    "'X_FRAME_OPTIONS', 'SECURE_REFERRER_POLICY', 'SECURE_CONTENT_TYPE_NOSNIFF', "
    "'LANGUAGE_COOKIE_SECURE']} | {'CSP': 'csp.middleware.CSPMiddleware' in s.MIDDLEWARE}))"
)


def test_production_turns_on_hsts_https_and_secure_cookies(tmp_path):
    from cryptography.fernet import Fernet

    from .test_settings import PRODUCTION_ENV

    env = {**PRODUCTION_ENV, "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode()}
    result = manage("shell", "-c", PRODUCTION_SETTINGS, env=env, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values["DEBUG"] is False
    assert values["SECURE_HSTS_SECONDS"] >= 31536000
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] and values["SECURE_HSTS_PRELOAD"]
    assert values["SECURE_SSL_REDIRECT"]
    assert values["SESSION_COOKIE_SECURE"] and values["CSRF_COOKIE_SECURE"]
    assert values["LANGUAGE_COOKIE_SECURE"] and values["SESSION_COOKIE_HTTPONLY"]
    assert values["X_FRAME_OPTIONS"] == "DENY"
    assert values["SECURE_REFERRER_POLICY"] == "same-origin"
    assert values["SECURE_CONTENT_TYPE_NOSNIFF"]
    assert values["CSP"]
