"""Hostile requests to every page and form of the hub never answer 500.

Walks the URL configuration like the tenant sweep does, so a new page or form
is fuzzed as soon as it is routed. Path parameters come from the tenant
sweep's ``OBJECT_FACTORIES`` (an object of the signed-in user's own tenant, so
the view goes past its lookup) for integer ids, and from :data:`PATH_EXAMPLES`
for the others; :func:`test_every_url_can_be_fuzzed` fails, naming the URL,
when a new one needs an entry.

Field names are not guessed: they are read from the templates (``name="..."``),
from every Django form's fields and from the ``request.GET/POST`` keys the code
reads, so a new form's fields are fuzzed too. Each URL gets GET and POST
requests, signed in as a tenant owner or a plain member (or not signed in), with random and
hostile query strings and bodies (invalid UTF-8, NUL characters, huge and
negative numbers, impossible dates, repeated keys, files), random htmx headers
and random values for its path parameters.

Webhooks have their own fuzzer (``tests/test_fuzz_webhooks.py``); Django's
admin and the provider sandbox (never mounted in production) are left out.
Hypothesis runs derandomized with a bounded number of examples per URL, so CI
sees the same cases every run; raise ``FUZZ_EXAMPLES`` locally to search harder.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
from pathlib import Path
from urllib.parse import quote

import pytest
from django.apps import apps as django_apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.forms import BaseForm
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.converters import IntConverter
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from apps.integrations.registry import providers
from apps.tenants.models import Membership

from .test_tenant_isolation import OBJECT_FACTORIES

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES_FORMS", "15"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    # No shrinking: CI must stay fast and the first failing request is printed as it is.
    phases=[Phase.explicit, Phase.generate],
    report_multiple_bugs=False,
)

#: Django's admin, the provider emulator, and the webhooks (their own fuzzer).
SKIPPED_NAMESPACES = {"admin", "sandbox", "webhooks"}

_SLUGS = st.from_regex(r"[-a-zA-Z0-9_]{1,40}", fullmatch=True)
_PRODUCTS = st.sampled_from(sorted(p.key for p in providers.all()) or ["none"])

#: url name -> {parameter: strategy} for path parameters that are not object ids
PATH_EXAMPLES: dict[str, dict[str, st.SearchStrategy]] = {
    "integrations:connect": {"product": _PRODUCTS | _SLUGS},
    "integrations:card": {"product": _PRODUCTS | _SLUGS},
    "tiktok_shop:app_store_confirm": {
        "token": _SLUGS | st.text(min_size=1, max_size=60).filter(lambda t: "/" not in t)
    },
    "meta_ads:data_deletion_status": {"code": _SLUGS},
}


def _walk(patterns, namespace=None):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace in SKIPPED_NAMESPACES:
                continue
            yield from _walk(entry.url_patterns, entry.namespace or namespace)
        elif isinstance(entry, URLPattern) and entry.name:
            yield (f"{namespace}:{entry.name}" if namespace else entry.name), entry


def _urls() -> dict[str, URLPattern]:
    return dict(_walk(get_resolver().url_patterns))


def _non_id_params(pattern: URLPattern) -> set[str]:
    return {
        name
        for name, converter in pattern.pattern.converters.items()
        if not isinstance(converter, IntConverter)
    }


def test_every_url_can_be_fuzzed():
    missing = []
    for name, pattern in sorted(_urls().items()):
        params = set(pattern.pattern.converters)
        if not params:
            continue
        covered = set(PATH_EXAMPLES.get(name, {}))
        if name in OBJECT_FACTORIES:
            continue  # the factory gives every parameter, object id and the rest
        if any(isinstance(c, IntConverter) for c in pattern.pattern.converters.values()):
            missing.append(f"{name} (object id: add it to OBJECT_FACTORIES)")
        elif not _non_id_params(pattern) <= covered:
            missing.append(f"{name} (add its parameters to PATH_EXAMPLES)")
    assert not missing, "URLs the form fuzzer cannot build: " + ", ".join(missing)


# --- field names, read from the code ---------------------------------------------------------

_TEMPLATE_NAME = re.compile(r"""\bname=["']([A-Za-z0-9_.\-\[\]]+)["']""")
_REQUEST_KEY = re.compile(r"""request\.(?:GET|POST)(?:\.get|\.getlist)?[(\[]\s*["']([^"']+)["']""")


def _form_fields() -> set[str]:
    for config in django_apps.get_app_configs():
        if config.name.startswith("apps."):
            with contextlib.suppress(ModuleNotFoundError):
                importlib.import_module(f"{config.name}.forms")
    names: set[str] = set()
    stack = list(BaseForm.__subclasses__())
    while stack:
        form = stack.pop()
        stack.extend(form.__subclasses__())
        if form.__module__.startswith("apps."):
            names.update(getattr(form, "base_fields", {}))
    return names


def field_names() -> list[str]:
    names = _form_fields()
    for path in [*ROOT.glob("templates/**/*.html"), *ROOT.glob("apps/*/templates/**/*.html")]:
        names.update(_TEMPLATE_NAME.findall(path.read_text()))
    for path in ROOT.glob("apps/*/**/*.py"):
        if "/tests/" not in str(path) and "/sandbox/" not in str(path):
            names.update(_REQUEST_KEY.findall(path.read_text()))
    names -= {"viewport", "robots", "htmx-config", "csrfmiddlewaretoken"}
    return sorted(names)


def test_field_vocabulary_is_read_from_the_code():
    names = field_names()
    # a template field, a form field, a key a view reads: the three sources work
    assert {"packs", "role", "page"} <= set(names), names


# --- values -----------------------------------------------------------------------------------

HOSTILE = st.sampled_from(
    [
        "",
        "0",
        "-1",
        "1",
        "2",
        "on",
        "true",
        "99999999999999999999999999",
        str(2**63),
        "-9223372036854775809",
        "1e309",
        "NaN",
        "0.0000001",
        "12,5",
        "2026-02-30",
        "9999-12-31",
        "0001-01-01",
        "1969-12-31T23:59:60Z",
        "2026-13-45",
        "../../etc/passwd",
        "<script>alert(1)</script>",
        "' OR 1=1 --",
        "a\x00b",
        "\x00",
        "\ud800",
        "\u202e",
        "😀" * 30,
        "x" * 5000,
        "owner",
        "admin",
        "member",
        "connected",
        "tiktok_ads",
        "meta_ads",
        "https://evil.example/",
        "//evil.example",
        "javascript:alert(1)",
    ]
)
VALUE = st.one_of(HOSTILE, st.text(max_size=40), st.integers().map(str))


def _encode(value: str) -> str:
    # surrogatepass: a lone surrogate becomes invalid UTF-8 on the wire, as a hostile client sends it
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def _query(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{_encode(k)}={_encode(v)}" for k, v in pairs)


HTMX_HEADERS = st.one_of(
    st.just({}),
    st.just({"HX-Request": "true"}),
    st.fixed_dictionaries(
        {
            "HX-Request": st.sampled_from(["true", "false", "", "1"]),
            "HX-Target": st.text(
                alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20
            ),
            "HX-Current-URL": st.sampled_from(["", "http://testserver/integrations/", "\x7f"]),
        }
    ),
)


# --- the sweep ----------------------------------------------------------------------------------


def _fuzzable_urls() -> list[str]:
    return sorted(_urls())


@pytest.fixture
def fuzz_clients(tenant_a, owner_a, member_a):
    def signed_in(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return {
        "owner": (owner_a, signed_in(owner_a)),
        "member": (member_a, signed_in(member_a)),
        "anonymous": (None, Client()),  # the login form, and every page's redirect to it
    }


@pytest.mark.parametrize("url_name", _fuzzable_urls())
def test_hostile_requests_never_answer_500(url_name, tenant_a, make_member, fuzz_clients, sandbox):
    pattern = _urls()[url_name]
    own_kwargs = (
        OBJECT_FACTORIES[url_name](tenant_a, make_member) if url_name in OBJECT_FACTORIES else {}
    )
    params = {}
    for name, converter in pattern.pattern.converters.items():
        examples = PATH_EXAMPLES.get(url_name, {})
        if isinstance(converter, IntConverter):
            own = st.just(own_kwargs[name]) if name in own_kwargs else st.nothing()
            params[name] = own | st.sampled_from([0, 1, 2**31, 2**63, 10**30])
        elif name in examples:
            params[name] = (
                st.just(own_kwargs[name]) if name in own_kwargs else st.nothing()
            ) | examples[name]
        elif name in own_kwargs:
            params[name] = st.just(own_kwargs[name])
        else:
            pytest.fail(f"{url_name}: add {name!r} to PATH_EXAMPLES or the URL to OBJECT_FACTORIES")
    names = field_names()
    pairs = st.lists(st.tuples(st.sampled_from(names), VALUE), max_size=8)
    seen: dict[int, int] = {}

    @FUZZ
    @given(
        who=st.sampled_from(["owner", "member", "owner", "member", "anonymous"]),
        method=st.sampled_from(["POST", "GET", "POST", "GET", "POST"]),
        kwargs=st.fixed_dictionaries(params),
        query=pairs,
        body=pairs,
        multipart=st.sampled_from([False, False, False, True]),
        headers=HTMX_HEADERS,
    )
    def request(who, method, kwargs, query, body, multipart, headers):
        user, client = fuzz_clients[who]
        if user is not None:
            client.force_login(user)  # a fuzzed logout or tenant switch must not end the run
        path = reverse(url_name, kwargs=kwargs)
        if query:
            path += "?" + _query(query)
        if method == "GET":
            response = client.get(path, headers=headers)
        elif multipart:
            data: dict = {}
            for key, value in body:
                if "\ud800" not in value:
                    data.setdefault(key, []).append(value)
            if body:
                data[body[0][0]] = SimpleUploadedFile(
                    "x.mp4", b"\x00\x00\x00\x18ftypmp42" + b"0" * 64
                )
            response = client.post(path, data=data, headers=headers)
        else:
            response = client.post(
                path,
                data=_query(body),
                content_type="application/x-www-form-urlencoded",
                headers=headers,
            )
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        assert response.status_code < 500, (who, method, path, body, response.content[:500])

    request()
    assert sum(seen.values()) >= EXAMPLES // 2, seen


def test_fuzzer_signs_in_as_a_member_of_the_tenant(fuzz_clients, tenant_a):
    owner, _ = fuzz_clients["owner"]
    member, client = fuzz_clients["member"]
    assert Membership.objects.get(user=owner, tenant=tenant_a).role == Membership.Role.OWNER
    assert Membership.objects.get(user=member, tenant=tenant_a).role == Membership.Role.MEMBER
    assert client.get(reverse("integrations:hub")).status_code == 200
