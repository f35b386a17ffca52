"""Brazilian Portuguese: every page of the hub, asked for in pt-BR, shows no English.

``test_every_page_renders_in_portuguese`` builds one tenant with data on every
integration (each product connected through the sandbox's consent screen and
synced from it, plus leads, conversions, webhooks and the catalog), walks the
URL resolver for every page a member can GET (outside the admin, the sandbox,
webhooks, metrics and health), follows the links those pages offer (tabs,
filters, detail pages), and reads the visible text of each answer with
``Accept-Language: pt-BR``. A text is a failure when it is an English msgid of
the catalog whose translation differs, or when it is made of common English
words only. A new URL with path parameters this module cannot fill fails with
its name: add it to ``URL_KWARGS``.

The catalog is read from the compiled ``.mo`` (``make`` compiles it; this
module compiles it too when it is missing or older than the ``.po``).
"""

from __future__ import annotations

import gettext
import re
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import Resolver404, URLPattern, URLResolver, get_resolver, resolve, reverse
from django.utils import timezone, translation

from apps.tenants.models import Membership

pytestmark = pytest.mark.django_db

LOCALE_DIR = Path(settings.BASE_DIR) / "locale" / "pt_BR" / "LC_MESSAGES"
PO_FILE = LOCALE_DIR / "django.po"
MO_FILE = LOCALE_DIR / "django.mo"
PT_BR = {"HTTP_ACCEPT_LANGUAGE": "pt-BR"}

#: Namespaces and URL names that are not pages of the hub: the staff admin, the
#: provider emulator, inbound webhooks, the language switch's POST view,
#: operators' endpoints and the OAuth callbacks (providers redirect there).
SKIPPED_NAMESPACES = {"admin", "sandbox", "webhooks"}
SKIPPED_NAMES = {
    "healthz",
    "metrics",
    "set_language",
    "tenants:logout",
    "integrations:tiktok_callback",
    "integrations:meta_callback",
}
#: Paths the crawl never follows (same reasons as above).
SKIPPED_PREFIXES = (
    "/admin/",
    "/sandbox/",
    "/webhooks/",
    "/i18n/",
    "/static/",
    "/metrics",
    "/healthz",
)
#: Pages per distinct (path, query keys) are enough to see every template once.
MAX_PAGES = 200

# --- the catalog ------------------------------------------------------------------------------


def _compiled_catalog() -> dict:
    if not MO_FILE.exists() or MO_FILE.stat().st_mtime < PO_FILE.stat().st_mtime:
        call_command(
            "compilemessages", locale=["pt_BR"], ignore_patterns=[".venv", "var"], verbosity=0
        )
        # A process that looked for the catalog before it existed cached its absence:
        # Django's own test signal handlers drop those caches.
        from django.core.signals import setting_changed

        setting_changed.send(
            sender=None, setting="LOCALE_PATHS", value=settings.LOCALE_PATHS, enter=False
        )
    with MO_FILE.open("rb") as fh:
        return gettext.GNUTranslations(fh)._catalog  # msgid (or (msgid, n)) -> msgstr


@pytest.fixture(autouse=True, scope="module")
def compiled_catalog() -> None:
    """``make`` compiles the catalog; a bare ``pytest`` run gets it compiled here."""
    _compiled_catalog()


#: pgettext contexts whose msgids are codes, not English (currency code -> symbol).
SYMBOL_CONTEXTS = {"currency symbol"}


def english_msgids() -> dict[str, str]:
    """``{English msgid: translation}`` for every msgid whose translation differs."""
    found = {}
    for key, msgstr in _compiled_catalog().items():
        msgid = key[0] if isinstance(key, tuple) else key
        context, _, msgid = msgid.rpartition("\x04")  # pgettext: "context\x04msgid"
        if not msgid or context in SYMBOL_CONTEXTS:
            continue
        if msgstr and msgstr != msgid:
            found[" ".join(msgid.split())] = msgstr
    return found


# --- what counts as English -------------------------------------------------------------------


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: Words that make a text English when it has no other: function words and the
#: hub's UI vocabulary. Words Brazilian Portuguese uses as they are (status,
#: total, item, lead, ticket, webhook, pixel, token, ...) or that are also
#: Portuguese words (do, me) are not here.
ENGLISH_WORDS = _words(
    """
    a an the and or of to in on at by for from with without into over under not no yes
    is are was were be been has have had does did will would can could should may must
    this that these those it its there here which what when where who why how all any
    each every some none more less than then also only just yet still ago per via
    i you your yours we our they their my he she his her
    save saved cancel delete deleted remove removed edit add added update updated create created
    connect connected disconnect disconnected reconnect sync synced syncing refresh test tested
    send sent resend retry replay back next previous prev more show hide open close closed
    search filter filters apply clear reset submit confirm change switch choose select view
    orders order settings setting setup last never always today yesterday now
    new old first latest recent running queued succeeded failed failure error errors warning
    success pending active inactive paused enabled disabled off unknown empty
    name names date dates time until since start end started finished ended duration
    page pages products product account accounts profile profiles ad ads
    campaign campaigns group groups set sets shop shops store stores return returns refund
    refunds message messages contact contacts stage stages deal deals
    team member members owner owners admin role roles user users login log logged sign
    password email language help details detail history events event conversions conversion
    delivered delivery deliveries received receiving processed processing ignored
    day days week weeks month months year years hour hours minute minutes second seconds
    spend spent budget budgets clicks impressions reach results cost
    fetched skipped matched shipped paid unpaid approved rejected refunded cancelled canceled
    uploaded published posted draft drafts video videos views likes comments shares followers
    ok done loading please try again sorry found
    """
)

#: Names that stay as they are in every language (brands, products, codes).
PROPER_NOUNS = _words(
    """
    tiktok meta facebook whatsapp instagram messenger google shopee amazon hub api capi
    pixel pixels webhook webhooks sku skus id ids url urls utc oauth json csv http https
    ctwa ttclid fbc fbp clid sha sha256 roi ios android usd brl eur thb
    """
)

_WORD = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)?", re.UNICODE)
_CODE = re.compile(r"^[A-Z0-9_]{2,}$|[_@/]|^\d|https?:")


#: Product and API names kept in English in Portuguese too.
BRAND_PHRASES = (
    "TikTok for Business",
    "TikTok Ads",
    "TikTok Shop",
    "TikTok Content",
    "Meta Ads",
    "Meta Business",
    "WhatsApp Business",
    "Conversions API",
    "Events API",
    "Marketing API",
    "Login Kit",
    "Display API",
    "Content Posting API",
    "Partner Center",
    "Lead Ads",
)
_BRANDS = re.compile("|".join(re.escape(b) for b in BRAND_PHRASES), re.IGNORECASE)


def english_only(text: str) -> bool:
    """True when every word of ``text`` is a common English word (and there is one)."""
    text = _BRANDS.sub(" ", text)
    if _CODE.search(text) and " " not in text:
        return False  # an id, a provider code, an email, a URL
    words = _WORD.findall(text)
    if not words:
        return False
    lowered = [w.lower() for w in words]
    if any(w in PROPER_NOUNS for w in lowered):
        lowered = [w for w in lowered if w not in PROPER_NOUNS]
        if not lowered:
            return False
    return all(w in ENGLISH_WORDS for w in lowered)


# --- reading a page ---------------------------------------------------------------------------

#: Attributes people read or hear (screen readers) besides the text itself.
READ_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")
VOID_ELEMENTS = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
    "track", "wbr",
}  # fmt: skip


class VisibleText(HTMLParser):
    """Text nodes and read attributes, outside scripts, styles and other-language elements.

    An element with a ``lang`` other than Portuguese (the language switch names
    each language in itself) is skipped with what it holds.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self.links: list[str] = []
        self.page_language: str | None = None  # <html lang>, on full pages
        self._stack: list[tuple[str, bool]] = []  # (tag, hides its content)

    def _hidden(self) -> bool:
        return any(hidden for _, hidden in self._stack)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        lang = (attrs.get("lang") or "").lower()
        if tag == "html":  # the page's own language: checked by the walk, hides nothing
            self.page_language, lang = lang, ""
        hides = tag in {"script", "style", "template"} or bool(lang and not lang.startswith("pt"))
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if not self._hidden() and not hides:
            for name in READ_ATTRIBUTES:
                if attrs.get(name):
                    self.texts.append(attrs[name])
            if tag == "input" and attrs.get("type") in {"submit", "button"} and attrs.get("value"):
                self.texts.append(attrs["value"])
        if tag not in VOID_ELEMENTS:
            self._stack.append((tag, hides))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID_ELEMENTS and self._stack and self._stack[-1][0] == tag:
            self._stack.pop()

    def handle_endtag(self, tag):
        for i in range(len(self._stack) - 1, -1, -1):
            if self._stack[i][0] == tag:
                del self._stack[i:]
                break

    def handle_data(self, data):
        if not self._hidden():
            self.texts.append(data)


def read_page(html: str) -> tuple[list[str], list[str], str | None]:
    """The visible texts, the links and the ``<html lang>`` (``None`` for a fragment)."""
    parser = VisibleText()
    parser.feed(html)
    parser.close()
    texts = [" ".join(t.split()) for t in parser.texts]
    return [t for t in texts if t], parser.links, parser.page_language


#: The tenant's own data shown on pages (names from the sandbox and the demo
#: catalog): ``(model, fields)``; a text equal to one of these values is data.
USER_DATA_FIELDS = {
    "catalog.CatalogItem": ("title", "category"),
    "catalog.Listing": ("title",),
    "tiktok_ads.TikTokAdsCampaign": ("name",),
    "tiktok_ads.TikTokAdGroup": ("name",),
    "tiktok_ads.TikTokAd": ("name",),
    "tiktok_ads.TikTokAdvertiser": ("name",),
    "tiktok_ads.TikTokPixel": ("name",),
    "tiktok_shop.Shop": ("name",),
    "tiktok_shop.OrderLine": ("product_name", "sku_name"),
    "meta_ads.MetaAdAccount": ("name",),
}


#: A date written for machines (2026-03-01): people read the locale's format.
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


def user_data() -> set[str]:
    from django.apps import apps

    values: set[str] = set()
    for label, fields in USER_DATA_FIELDS.items():
        for row in apps.get_model(label).objects.values_list(*fields):
            values.update(" ".join(v.split()) for v in row if v)
    return values


def untranslated(
    texts: list[str], msgids: dict[str, str], data: set[str] = frozenset()
) -> list[str]:
    found = []
    for text in texts:
        if text in data:
            continue
        # "Label:" and "(Label)" are still the label.
        bare = text.strip(" :·|()\u2014\u2013-,.")
        if text in msgids or bare in msgids or english_only(bare) or ISO_DATE.search(text):
            found.append(text)
    return found


# --- a tenant with data on every integration ---------------------------------------------------


def _connect_and_sync(client, product: str, sandbox_provider: str) -> None:
    """Connect ``product`` through the hub's views and the sandbox, then run every sync kind."""
    from apps.integrations.models import SyncRun
    from apps.integrations.registry import providers
    from apps.integrations.scopes import packs_for
    from apps.integrations.sync import sync_kinds, sync_run_for_connection_now
    from apps.integrations.tests.contract import ProviderContract

    walk = type(
        "ConnectWalk",
        (ProviderContract,),
        {
            "provider_key": product,
            "sandbox_provider": sandbox_provider,
            "packs": tuple(p.key for p in packs_for(product)),
        },
    )()
    walk.connect(client)
    # Connecting queues first runs whose tasks never run in a test; run them here.
    SyncRun.objects.filter(status=SyncRun.Status.QUEUED).delete()
    model = providers.get(product).model
    for connection in model.objects.all():
        for kind in sync_kinds.for_product(product):
            sync_run_for_connection_now(connection=connection, kind=kind.kind, trigger="manual")


@pytest.fixture
def sandbox_keeping_language(monkeypatch, db):
    """The in-process sandbox, without letting its requests change the page's language.

    The sandbox answers through a nested ``django.test.Client`` request in the
    same thread, whose ``LocaleMiddleware`` activates English (no
    ``Accept-Language``) and leaves it active: the rest of the page that made
    the provider call would render in English. In production the sandbox is
    another HTTP request and cannot do that.
    """
    from apps.sandbox import testing

    dispatch = testing._dispatch

    def dispatch_in_the_same_language(request):
        with translation.override(translation.get_language()):
            return dispatch(request)

    monkeypatch.setattr(testing, "_dispatch", dispatch_in_the_same_language)
    yield from testing.sandbox_fixture()


@pytest.fixture
def hub_world(owner_client, owner_a, tenant_a, sandbox_keeping_language, settings):
    """Tenant A with every product connected and synced, leads, conversions and webhooks."""
    settings.SANDBOX_SHOP_ORDERS_PER_SHOP = 30
    from apps.sandbox import shop_data

    shop_data.shop_orders.cache_clear()
    for product, sandbox_provider in (
        ("tiktok_ads", "tiktok_ads"),
        ("tiktok_shop", "tiktok_shop"),
        ("tiktok_content", "tiktok_content"),
        ("meta_ads", "meta"),
    ):
        _connect_and_sync(owner_client, product, sandbox_provider)
    call_command(
        "import_catalog",
        str(Path(settings.BASE_DIR) / "apps/catalog/fixtures/demo_catalog.csv"),
        tenant=tenant_a.slug,
        verbosity=0,
    )
    _leads_and_conversions(tenant_a, owner_a)
    return tenant_a


def _leads_and_conversions(tenant, user) -> None:
    """A won WhatsApp ticket from a TikTok ad, its conversions, webhook events, a rate."""
    from datetime import date
    from decimal import Decimal

    from apps.analytics.models import ExchangeRate
    from apps.capi.models import ConversionDestination, ConversionEvent
    from apps.leads.models import Contact, Message, StageChange, Ticket, TicketTracking
    from apps.meta_ads.models import WhatsAppNumber
    from apps.tiktok_ads.models import TikTokAd
    from apps.webhooks.models import WebhookEvent

    now = timezone.now()
    ad = TikTokAd.objects.order_by("pk").first()
    WhatsAppNumber.objects.create(
        tenant=tenant,
        phone_number_id="106540352242922",
        waba_id="102290129340398",
        display_phone_number="+55 11 91234-5678",
        verified_name="Loja Demo",
        conversions_enabled=True,
        conversions_dataset_id="1234567890",
    )
    contact = Contact.objects.create(tenant=tenant, wa_id="5511912345678", name="Maria Silva")
    ticket = Ticket.objects.create(
        tenant=tenant,
        contact=contact,
        channel="whatsapp",
        last_message_at=now,
        opened_at=now,
        stage=Ticket.Stage.WON,
        deal_value=Decimal("1234.56"),
        currency="BRL",
    )
    TicketTracking.objects.create(
        tenant=tenant,
        ticket=ticket,
        platform="tiktok",
        ad_id=ad.ad_id,
        source_type="ad",
        campaign_id=ad.campaign_id,
        adset_id=ad.adgroup_id,
        ad_name=ad.name,
        ttclid="E.C.P.pt-br-click",
        attributed_at=now,
    )
    StageChange.objects.create(
        tenant=tenant,
        ticket=ticket,
        from_stage=Ticket.Stage.NEW,
        to_stage=Ticket.Stage.WON,
        by=user,
        value=Decimal("1234.56"),
        currency="BRL",
    )
    Message.objects.create(
        tenant=tenant,
        ticket=ticket,
        channel="whatsapp",
        direction="in",
        provider_message_id="wamid.pt-br-1",
        text="Olá, quero saber o preço",
        sent_at=now,
        delivery_state="received",
    )
    destination = ConversionDestination.objects.create(
        tenant=tenant, platform="tiktok", external_id="CPIXEL123", label="Pixel da loja"
    )
    for n, status in enumerate(ConversionEvent.Status.values):
        ConversionEvent.objects.create(
            tenant=tenant,
            platform="tiktok",
            destination=destination,
            event_name="CompletePayment",
            event_id=f"lead-{ticket.pk}-{n}",
            ticket=ticket,
            value=Decimal("1234.56"),
            currency="BRL",
            click_id="E.C.P.pt-br-click",
            event_time=now,
            status=status,
            attempts=1,
            error_message="" if status == "sent" else "HTTP 500",
        )
    for n, status in enumerate(WebhookEvent.Status.values):
        for source in ("tiktok-shop", "meta", "tiktok-ads"):
            WebhookEvent.objects.create(
                tenant=tenant,
                source=source,
                event_id=f"{source}-{n}",
                event_type="ORDER_STATUS_CHANGE",
                payload={},
                status=status,
                attempts=1,
            )
    ExchangeRate.objects.create(
        tenant=tenant,
        from_currency="USD",
        to_currency="BRL",
        rate=Decimal("5.4321"),
        valid_from=date(2026, 1, 1),
        created_by=user,
    )


# --- the walk ---------------------------------------------------------------------------------


def _walk(patterns, namespace=None) -> Iterator[tuple[str, URLPattern]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace in SKIPPED_NAMESPACES:
                continue
            yield from _walk(entry.url_patterns, entry.namespace or namespace)
        elif isinstance(entry, URLPattern) and entry.name:
            yield (f"{namespace}:{entry.name}" if namespace else entry.name), entry


def _first(model_path: str, **filters) -> Callable[[], list[dict]]:
    def kwargs() -> list[dict]:
        from django.apps import apps

        row = apps.get_model(model_path).objects.filter(**filters).order_by("pk").first()
        return [{"pk": row.pk}] if row else []

    return kwargs


def _products() -> list[dict]:
    from apps.integrations.registry import providers

    return [{"product": p.key} for p in providers.all()]


def _connections() -> list[dict]:
    from apps.integrations.registry import providers

    return [
        {"product": p.key, "pk": row.pk}
        for p in providers.all()
        for row in p.model.objects.order_by("pk")[:1]
    ]


def _membership() -> list[dict]:
    return [{"membership_id": m.pk} for m in Membership.objects.order_by("pk")[:1]]


def _deletion_code() -> list[dict]:
    from apps.meta_ads.models import MetaDataDeletionRequest

    rows = MetaDataDeletionRequest.objects.order_by("pk")[:1]
    return [{"code": row.confirmation_code} for row in rows]


def _shop_token() -> list[dict]:
    # The app-store landing page needs a fresh signed token; the shop tests cover it.
    return []


#: URL name -> callable returning the kwargs to GET it with (one dict per variant).
#: A URL with path parameters missing here fails the walk with its name.
URL_KWARGS: dict[str, Callable[[], list[dict]]] = {
    "tenants:change_role": _membership,
    "tenants:remove_member": _membership,
    "integrations:connect": _products,
    "integrations:card": _products,
    "integrations:test": _connections,
    "integrations:sync": _connections,
    "integrations:disconnect": _connections,
    "tiktok_ads:campaign": _first("tiktok_ads.TikTokAdsCampaign"),
    "tiktok_ads:campaign_status": _first("tiktok_ads.TikTokAdsCampaign"),
    "tiktok_ads:adgroup": _first("tiktok_ads.TikTokAdGroup"),
    "tiktok_ads:adgroup_status": _first("tiktok_ads.TikTokAdGroup"),
    "tiktok_ads:adgroup_budget": _first("tiktok_ads.TikTokAdGroup"),
    "tiktok_ads:ad_status": _first("tiktok_ads.TikTokAd"),
    "tiktok_shop:order": _first("tiktok_shop.Order"),
    "tiktok_shop:order_fulfillment": _first("tiktok_shop.Order"),
    "tiktok_shop:return": _first("tiktok_shop.ReturnRequest"),
    "tiktok_shop:return_decide": _first("tiktok_shop.ReturnRequest"),
    "tiktok_shop:app_store_confirm": _shop_token,
    "tiktok_content:publish_job": _first("tiktok_content.PublishJob"),
    "meta_ads:ad_account_tracking": _first("meta_ads.MetaAdAccount"),
    "meta_ads:ad_account_pixels": _first("meta_ads.MetaAdAccount"),
    "meta_ads:ad_account_pixel": _first("meta_ads.MetaAdAccount"),
    "meta_ads:whatsapp_conversions": _first("meta_ads.WhatsAppNumber"),
    "meta_ads:whatsapp_delete": _first("meta_ads.WhatsAppNumber"),
    "meta_ads:data_deletion_status": _deletion_code,
    "catalog:item_push": _first("catalog.CatalogItem"),
    "leads:ticket": _first("leads.Ticket"),
    "leads:ticket_stage": _first("leads.Ticket"),
    "leads:ticket_thread": _first("leads.Ticket"),
    "leads:ticket_reply": _first("leads.Ticket"),
    "analytics:rate_delete": _first("analytics.ExchangeRate"),
}


def hub_urls() -> tuple[list[str], list[str]]:
    """Every hub URL to GET, and the names of URLs with parameters nobody fills."""
    urls, unfilled = [], []
    for name, pattern in _walk(get_resolver().url_patterns):
        if name in SKIPPED_NAMES:
            continue
        if not pattern.pattern.converters:
            urls.append(reverse(name))
        elif name in URL_KWARGS:
            urls.extend(reverse(name, kwargs=kwargs) for kwargs in URL_KWARGS[name]())
        else:
            unfilled.append(name)
    return urls, unfilled


def _crawl_key(url: str) -> tuple:
    """One page per URL pattern and set of query keys (tabs and views by value).

    Tabs and views change the template; other parameters (filters, pages) and
    other objects of the same pattern only change the rows.
    """
    parts = urlsplit(url)
    params = parse_qsl(parts.query, keep_blank_values=True)
    try:
        match = resolve(parts.path)
        route = (
            match.view_name
            + "|"
            + "|".join(
                f"{k}={v}" for k, v in sorted(match.kwargs.items()) if k in {"product", "tab"}
            )
        )
    except Resolver404:
        route = parts.path
    return route, tuple(sorted({(k, v if k in {"tab", "view"} else "") for k, v in params}))


def _internal(href: str, base: str) -> str | None:
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or href.startswith("#") or href.startswith("mailto:"):
        return None
    path = parts.path or urlsplit(base).path
    if not path.startswith("/") or path.startswith(SKIPPED_PREFIXES):
        return None
    return path + (f"?{urlencode(parse_qsl(parts.query))}" if parts.query else "")


def walk_hub(client) -> tuple[dict[str, list[str]], list[str]]:
    """GET every page in pt-BR; ``({url: untranslated texts}, pages visited)``."""
    msgids = english_msgids()
    data = user_data()
    start, unfilled = hub_urls()
    assert not unfilled, (
        f"URLs with path parameters the translation walk cannot fill: {unfilled}; "
        "add them to URL_KWARGS in tests/test_translations.py"
    )
    queue, seen, visited, failures = list(start), set(), [], {}
    while queue:
        url = queue.pop(0)
        key = _crawl_key(url)
        if key in seen:
            continue
        seen.add(key)
        assert len(visited) < MAX_PAGES, f"more than {MAX_PAGES} distinct pages: raise MAX_PAGES"
        response = client.get(url, **PT_BR)
        if response.status_code in (301, 302, 303):
            target = _internal(response["Location"], url)
            if target:
                queue.append(target)
            continue
        if response.status_code == 405:  # POST-only
            continue
        content_type = response.get("Content-Type", "")
        assert response.status_code < 500, f"{url} answered {response.status_code}"
        if "html" not in content_type:
            continue
        visited.append(url)
        texts, links, language = read_page(response.content.decode())
        bad = untranslated(texts, msgids, data)
        if language is not None and not language.startswith("pt"):
            bad.insert(0, f"<html lang={language!r}>")
        if bad:
            failures[url] = bad
        queue.extend(filter(None, (_internal(href, url) for href in links)))
    return failures, visited


def test_every_page_renders_in_portuguese(hub_world, owner_client):
    failures, visited = walk_hub(owner_client)
    assert len(visited) >= 15, visited
    report = "\n".join(
        f"{url}:\n" + "\n".join(f"    {text!r}" for text in list(dict.fromkeys(texts))[:25])
        for url, texts in failures.items()
    )
    assert not failures, f"English left on {len(failures)} of {len(visited)} pages:\n{report}"


# --- the detector itself ----------------------------------------------------------------------


def test_the_detector_finds_english_and_spares_names_data_and_other_languages():
    html = """<html lang="pt-br"><head><title>Hub de integrações</title><style>.x{}</style></head><body>
      <script>var s = "Save";</script>
      <nav aria-label="Account"><a href="/x/">Pedidos</a></nav>
      <h2>Last sync</h2><button>Delete</button><p>Nunca</p>
      <p>TikTok Ads</p><p>US$ 1.234,56</p><p>ORDER_STATUS_CHANGE</p><p>ops@acme.example</p>
      <select><option lang="en">English</option><option lang="pt-br">Português</option></select>
      <input type="submit" value="Cancel"><input placeholder="Buscar">
      <p>Summer Sale</p>
    </body></html>"""
    texts, links, language = read_page(html)
    assert links == ["/x/"] and language == "pt-br"
    assert "English" not in texts and 'var s = "Save";' not in texts
    found = untranslated(texts, {"Summer Sale": "Liquidação de verão"}, data={"Summer Sale"})
    assert found == ["Account", "Last sync", "Delete", "Cancel"]
    # A page served in English hides nothing behind its own ``lang``.
    texts, _, language = read_page('<html lang="en"><body><p>Orders</p></body></html>')
    assert language == "en" and untranslated(texts, {}) == ["Orders"]


def test_the_catalog_is_complete_and_keeps_every_placeholder():
    """No fuzzy or empty entry, plural forms for pt_BR, placeholders as in the msgid."""
    text = PO_FILE.read_text(encoding="utf-8")
    assert '"Plural-Forms: nplurals=2; plural=(n > 1);\\n"' in text
    placeholder = re.compile(r"%\(\w+\)[sdr]|\{\w+\}")
    problems = []
    for block in text.split("\n\n")[1:]:  # the header first
        lines = [line for line in block.splitlines() if not line.startswith("#~")]
        if not lines:
            continue
        if any(line.startswith("#,") and "fuzzy" in line for line in lines):
            problems.append(("fuzzy", block))
        parts: dict[str, str] = {}
        key = None
        for line in lines:
            if line.startswith("#"):
                continue
            head, _, rest = line.partition(" ")
            if line.startswith('"'):
                parts[key] += line[1:-1]
            else:
                key = head
                parts[key] = rest[1:-1]
        if "msgid" not in parts:
            continue
        translations = [v for k, v in parts.items() if k.startswith("msgstr")]
        if not all(translations):
            problems.append(("untranslated", parts["msgid"]))
        wanted = sorted(set(placeholder.findall(parts["msgid"] + parts.get("msgid_plural", ""))))
        for msgstr in translations:
            if sorted(set(placeholder.findall(msgstr))) != wanted and len(translations) == 1:
                problems.append(("placeholders", parts["msgid"]))
    assert not problems, problems[:20]


# --- the switch and the formats ---------------------------------------------------------------


def test_the_language_switch_sets_the_cookie_and_the_pages_follow_it(member_client):
    hub = reverse("integrations:hub")
    page = member_client.get(hub).content.decode()
    assert f'action="{reverse("set_language")}"' in page and 'name="language"' in page
    assert "Skip to content" in page

    answer = member_client.post(reverse("set_language"), {"language": "pt-br", "next": hub})
    assert answer.status_code == 302 and answer["Location"] == hub
    assert member_client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "pt-br"
    page = member_client.get(hub).content.decode()  # no Accept-Language: the cookie decides
    assert '<html lang="pt-br">' in page and "Pular para o conteúdo" in page
    assert '<option value="pt-br" lang="pt-br" selected>' in page

    member_client.post(reverse("set_language"), {"language": "en", "next": hub})
    assert "Skip to content" in member_client.get(hub, **PT_BR).content.decode()


def test_the_switch_needs_a_csrf_token(member_a):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(member_a)
    assert client.post(reverse("set_language"), {"language": "pt-br"}).status_code == 403


def test_a_portuguese_page_writes_money_numbers_and_dates_the_brazilian_way(
    member_client, tenant_a
):
    from datetime import datetime
    from decimal import Decimal

    from apps.tiktok_shop.models import Order, OrderLine, Shop, TikTokShopConnection

    conn = TikTokShopConnection.objects.create(tenant=tenant_a, access_token="t")
    shop = Shop.objects.create(tenant=tenant_a, connection=conn, shop_id="1", cipher="c")
    when = timezone.make_aware(datetime(2026, 3, 1, 14, 5), timezone.get_current_timezone())
    order = Order.objects.create(
        tenant=tenant_a,
        shop=shop,
        order_id="5770001",
        status="AWAITING_SHIPMENT",
        create_time=when,
        update_time=when,
        synced_at=when,
        currency="BRL",
        total_amount=Decimal("1234.56"),
    )
    OrderLine.objects.create(
        tenant=tenant_a,
        order=order,
        sku_id="9",
        quantity=2,
        currency="USD",
        sale_price=Decimal("12345.5"),
        synced_at=when,
    )
    url = reverse("tiktok_shop:order", kwargs={"pk": order.pk})

    portuguese = member_client.get(url, **PT_BR).content.decode()
    assert "R$ 1.234,56" in portuguese
    assert "US$ 12.345,50" in portuguese
    assert "01/03/2026 14:05" in portuguese and "2026-03-01 14:05" not in portuguese

    english = member_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "1234.56 BRL" in english and "12345.50 USD" in english
    assert "2026-03-01 14:05" in english


@pytest.mark.parametrize(
    ("language", "amount", "currency", "shown"),
    [
        ("pt-br", "1234.5", "BRL", "R$ 1.234,50"),
        ("pt-br", "-0.5", "EUR", "€ -0,50"),
        ("pt-br", "1234567", "JPY", "JPY 1.234.567"),
        ("pt-br", "12", "", "12,00"),
        ("pt-br", None, "BRL", "—"),
        ("en", "1234.5", "usd", "1234.50 USD"),
        ("en", "1234567", "JPY", "1234567 JPY"),
        ("en", "not a number", "USD", "—"),
    ],
)
def test_money_follows_the_active_language(language, amount, currency, shown):
    from django.utils import translation

    from apps.integrations.templatetags.hub_format import format_money

    with translation.override(language):
        assert format_money(amount, currency) == shown


def test_the_login_and_no_tenant_pages_are_portuguese(client, django_user_model):
    msgids = english_msgids()
    login = client.get(reverse("tenants:login"), **PT_BR)
    texts, _, language = read_page(login.content.decode())
    assert language == "pt-br" and "Entrar" in texts
    assert untranslated(texts, msgids) == []

    client.force_login(django_user_model.objects.create_user("lonely@example.com"))
    page = client.get(reverse("integrations:hub"), **PT_BR)
    texts, _, language = read_page(page.content.decode())
    assert language == "pt-br" and "Nenhum tenant ainda" in texts
    assert untranslated(texts, msgids) == []


def test_the_server_error_page_is_portuguese():
    from django.test import RequestFactory
    from django.views.defaults import server_error

    with translation.override("pt-br"):
        response = server_error(RequestFactory().get("/"))
    texts, _, language = read_page(response.content.decode())
    assert response.status_code == 500 and language == "pt-br"
    assert "Erro no servidor" in texts
    assert untranslated(texts, english_msgids()) == []
