"""Mixed hub page views by many tenants under gunicorn on PostgreSQL.

Creates its own database (``hub_bench_pages`` on the server of
``DATABASE_URL``), migrates it and fills ``--tenants`` tenants the way
``bench_hub.py`` does (every product connected, two Meta profiles, ``--days``
of daily sync runs per connection and kind), plus per tenant ``--tickets``
WhatsApp conversations through the leads service and ``--products`` catalog
items. Each tenant's owner gets a real logged-in session (a session row and
its cookie). Then gunicorn (``--workers``) serves a mix of GETs from every
tenant at once, replayed by ``wrk`` (``--connections``) from a prepared file
(``bench/wrk_replay.lua``): the hub's tabs, leads inbox and board, catalog,
orders, ads and content pages, in turn, each request with its tenant's cookie.

Reported: requests/s, p50/p99 (wrk's), answers by status and 5xx, and, for
isolation, that each answer carries its own tenant's name and no other
tenant's (checked on a sample with a Python client after the run). Exit status
1 on any 5xx, any non-200 or any leak.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/bench_pages.py
    .venv/bin/python bench/bench_pages.py --tenants 50 --days 365 --loops 10   # bigger
"""

from __future__ import annotations

import argparse
import http.client
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_flood import (
    DEFAULT_SERVER,
    database_url,
    django_run,
    drop_database,
    flood_env,
    free_port,
    recreate_database,
    run_wrk,
    start_gunicorn,
    stop,
)

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
DB_NAME = "hub_bench_pages"
PAGES = (
    "/integrations/",
    "/integrations/?tab=meta",
    "/integrations/?tab=sync",
    "/leads/",
    "/leads/board/",
    "/catalog/",
    "/integrations/tiktok-shop/",
    "/integrations/tiktok-ads/",
    "/integrations/tiktok-content/",
)

SEED = """
import sys
from datetime import timedelta
from decimal import Decimal
sys.path.insert(0, "bench")
from django.conf import settings
from django.contrib.auth import get_user_model, BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.utils import timezone
from bench_hub import build
from apps.catalog.models import CatalogItem
from apps.leads.inbound import InboundMessage
from apps.leads import services as leads
from apps.tenants.models import Membership

users = build({tenants}, {days})
now = timezone.now()
for t, user in enumerate(users):
    tenant = Membership.objects.get(user=user).tenant
    for n in range({tickets}):
        leads.message_received(tenant=tenant, message=InboundMessage(
            channel="whatsapp", provider_message_id=f"wamid.pages.{{t}}.{{n}}",
            sent_at=now - timedelta(minutes=n), wa_id=f"5511{{t:03d}}{{n:06d}}",
            contact_name=f"Contact {{t}}-{{n}}", text="Qual o prazo de entrega?",
            account_ref=f"pn-{{t}}"))
    CatalogItem.objects.bulk_create([
        CatalogItem(tenant=tenant, sku=f"SKU-{{t}}-{{n}}", title=f"Product {{t}}-{{n}}",
                    price=Decimal("99.90"), currency="BRL", stock=n)
        for n in range({products})
    ])
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    print("SESSION", tenant.name.replace(" ", "_"), session.session_key)
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("ANALYZE")
"""


def seed(env: dict[str, str], args: argparse.Namespace) -> list[tuple[str, str]]:
    """Migrate and fill the database; return (tenant name, session key) per tenant."""
    import subprocess

    subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    out = django_run(
        env,
        SEED.format(
            tenants=args.tenants, days=args.days, tickets=args.tickets, products=args.products
        ),
    )
    return [
        (line.split()[1].replace("_", " "), line.split()[2])
        for line in out.splitlines()
        if line.startswith("SESSION ")
    ]


def write_requests(path: Path, sessions: list[tuple[str, str]]) -> int:
    """Every tenant's pages, interleaved so that all tenants are served at once."""
    count = 0
    with path.open("w") as out:
        for page_index, page in enumerate(PAGES):
            for t, (_name, key) in enumerate(sessions):
                headers = f"Cookie: sessionid={key}\x1fAccept-Language: en"
                out.write(f"pg-{page_index:02d}-{t:05d}\tGET\t{page}\t{headers}\t\n")
                count += 1
    return count


def check_isolation(port: int, sessions: list[tuple[str, str]]) -> list[str]:
    """Each tenant's hub page names that tenant and no other (the tenant switcher shows it)."""
    problems = []
    names = [name for name, _ in sessions]
    for name, key in sessions:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/leads/", headers={"Cookie": f"sessionid={key}"})
        response = conn.getresponse()
        body = response.read().decode()
        if response.status != 200:
            problems.append(f"{name}: /leads/ answered {response.status}")
            continue
        if f"Contact {name.split()[-1]}-" not in body:
            problems.append(f"{name}: its own contacts are missing from /leads/")
        others = [o for o in names if o != name and f"Contact {o.split()[-1]}-" in body]
        if others:
            problems.append(f"{name}: /leads/ shows contacts of {others}")
    return problems


def page_times(port: int, session_key: str) -> list[tuple[str, int, float]]:
    """Each page once, one at a time, for one tenant: which pages cost what, unloaded."""
    import time

    out = []
    for page in PAGES:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        started = time.perf_counter()
        conn.request("GET", page, headers={"Cookie": f"sessionid={session_key}"})
        response = conn.getresponse()
        response.read()
        out.append((page, response.status, (time.perf_counter() - started) * 1000))
        conn.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--days", type=int, default=30, help="days of sync runs per kind")
    parser.add_argument("--tickets", type=int, default=30, help="WhatsApp tickets per tenant")
    parser.add_argument("--products", type=int, default=50, help="catalog items per tenant")
    parser.add_argument("--loops", type=int, default=3, help="times the page mix is replayed")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (see run_wrk)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--max-seconds", type=int, default=120)
    args = parser.parse_args()

    base = os.environ.get("DATABASE_URL", DEFAULT_SERVER)
    if not base.startswith("postgres"):
        raise SystemExit("bench_pages.py runs on PostgreSQL: set DATABASE_URL=postgres://...")
    env = flood_env(database_url(base, DB_NAME))
    recreate_database(base, DB_NAME)
    try:
        sessions = seed(env, args)
        with tempfile.TemporaryDirectory() as tmp:
            requests_file = Path(tmp) / "pages.tsv"
            distinct = write_requests(requests_file, sessions)
            port = free_port()
            server = start_gunicorn(env, port, args.workers)
            try:
                report = run_wrk(
                    port,
                    requests_file,
                    connections=args.connections,
                    threads=args.threads,
                    max_seconds=args.max_seconds,
                    loops=args.loops,
                )
                problems = check_isolation(port, sessions)
                singles = page_times(port, sessions[len(sessions) // 2][1])
            finally:
                stop(server)
    finally:
        drop_database(base, DB_NAME)

    statuses = ", ".join(f"{code}: {n:,}" for code, n in sorted(report.statuses.items()))
    not_ok = sum(n for code, n in report.statuses.items() if code != 200)
    print(
        f"database: PostgreSQL {DB_NAME}  gunicorn workers: {args.workers}  "
        f"connections: {args.connections}  tenants: {len(sessions)}  pages: {len(PAGES)}"
    )
    print(
        f"requests: {report.total:,} ({distinct:,} tenant x page, {args.loops} times)  "
        f"answered: {report.answered:,}  socket errors (connect/read/write/timeout): "
        f"{report.errors[0]}/{report.errors[1]}/{report.errors[2]}/{report.errors[4]}"
    )
    print(
        f"{report.rps:,.0f} req/s  p50 {report.p50_ms:.1f} ms  p99 {report.p99_ms:.1f} ms  "
        f"max {report.max_ms:.1f} ms  answers {{{statuses}}}  5xx: {report.server_errors}"
    )
    print(
        "one request at a time, one tenant: "
        + ", ".join(
            f"{page} {ms:.0f} ms" + ("" if st == 200 else f" ({st})") for page, st, ms in singles
        )
    )
    if report.bad:
        print("first non-200 answers:", ", ".join(f"{i} {c}" for i, c in report.bad[:10]))
    print(f"tenant isolation on /leads/: {problems or 'OK'}")
    failed = report.server_errors or not_ok or problems or report.answered != report.total
    print("RESULT:", "FAIL" if failed else "OK (no 5xx, every page 200, no leak)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
