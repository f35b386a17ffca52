"""Server time and query count of the /integrations page.

20 tenants (``--tenants``), each with all four products connected (two Meta
profiles) and a year of daily sync runs per connection and kind. Renders the
TikTok and Meta tabs through Django's test client (no network, no browser) and
prints p50/p95/max and the query count per tab. Runs in a throwaway test
database created from the configured one (``DATABASE_URL``), so it never
touches real data:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/bench_hub.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, setup_test_environment
from django.utils import timezone

KINDS = ("campaigns", "insights", "audiences")


def build(tenants: int, days: int) -> list:
    from django.contrib.auth import get_user_model

    from apps.integrations.models import SyncRun
    from apps.integrations.registry import providers
    from apps.tenants.models import Membership, Tenant

    users = []
    now = timezone.now()
    runs = []
    for t in range(tenants):
        tenant = Tenant.objects.create(slug=f"bench-{t}", name=f"Bench {t}")
        user = get_user_model().objects.create_user(f"owner{t}@bench.example", password="x")
        Membership.objects.create(user=user, tenant=tenant, role=Membership.Role.OWNER)
        users.append(user)
        for provider in providers.all():
            profiles = 2 if provider.many_connections else 1
            for p in range(profiles):
                conn = provider.model.objects.create(
                    tenant=tenant,
                    access_token=f"bench-token-{t}-{provider.key}-{p}",
                    refresh_token="bench-refresh",
                    access_expires_at=now + timedelta(hours=2),
                    external_user_id=f"ext-{t}-{p}",
                    display_name=f"{provider.label} {p}",
                    scope_packs=[],
                    granted_scopes=[],
                    connected_at=now,
                )
                for day in range(days):
                    when = now - timedelta(days=day)
                    for kind in KINDS:
                        runs.append(
                            SyncRun(
                                tenant=tenant,
                                product=provider.key,
                                connection_id=conn.pk,
                                kind=kind,
                                trigger=SyncRun.Trigger.SCHEDULE,
                                status=SyncRun.Status.SUCCEEDED,
                                stats={
                                    "fetched": 100,
                                    "created": 3,
                                    "updated": 97,
                                    "skipped": 0,
                                    "errors": 0,
                                },
                                created_at=when,
                                started_at=when,
                                finished_at=when + timedelta(seconds=12),
                            )
                        )
        if len(runs) > 20000:
            SyncRun.objects.bulk_create(runs, batch_size=5000)
            runs = []
    SyncRun.objects.bulk_create(runs, batch_size=5000)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE")
        else:
            cursor.execute("ANALYZE")
    return users


def measure(client: Client, url: str, repeat: int) -> tuple[list[float], int]:
    client.get(url)  # warm caches and the session
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return timings, len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()

    setup_test_environment()
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        from apps.integrations.models import SyncRun

        started = time.perf_counter()
        users = build(args.tenants, args.days)
        print(
            f"database={connection.vendor} tenants={args.tenants} "
            f"sync_runs={SyncRun.objects.count()} built in {time.perf_counter() - started:.1f}s"
        )
        client = Client()
        client.force_login(users[len(users) // 2])
        print(f"{'page':<28}{'p50 ms':>8}{'p95 ms':>8}{'max ms':>8}{'queries':>9}")
        for label, url in (
            ("/integrations/ (TikTok)", "/integrations/"),
            ("/integrations/?tab=meta", "/integrations/?tab=meta"),
            ("/integrations/?tab=sync", "/integrations/?tab=sync"),
        ):
            timings, queries = measure(client, url, args.repeat)
            timings.sort()
            p95 = timings[int(len(timings) * 0.95) - 1]
            print(
                f"{label:<28}{statistics.median(timings):>8.1f}{p95:>8.1f}{max(timings):>8.1f}{queries:>9}"
            )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
