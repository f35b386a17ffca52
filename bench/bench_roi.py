"""Server time and query count of the ROI dashboard (and the TikTok daily view).

One tenant with 5,000 ads and a year of daily insights on Meta and TikTok plus
tickets (``bench/roi_data.py``; ``--ads``, ``--days``, ``--tickets``,
``--active-days``). Renders the pages through Django's test client (no network,
no browser) ``--repeat`` times per case and prints the median, p95 and max
server time and the query count. Runs in a throwaway test database created
from the configured one (``DATABASE_URL``), so it never touches real data:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_roi .venv/bin/python bench/bench_roi.py
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, setup_test_environment
from django.urls import get_resolver


def measure(client: Client, cases: list[tuple[str, str]], repeat: int) -> dict:
    """Timings per case, the cases taken in turn (round-robin), so drift in the machine's
    load spreads over every case instead of landing on whichever ran first."""
    timings: dict[str, list[float]] = {label: [] for label, _url in cases}
    for _label, url in cases:
        response = client.get(url)  # warm caches and the session
        assert response.status_code == 200, (url, response.status_code)
    for _ in range(repeat):
        for label, url in cases:
            started = time.perf_counter()
            response = client.get(url)
            timings[label].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code
    return timings


def count_queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ads", type=int, default=5000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--tickets", type=int, default=20_000)
    parser.add_argument("--active-days", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the test database")
    args = parser.parse_args()

    setup_test_environment()
    assert get_resolver().url_patterns  # import every view now, not halfway through the run
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        from django.contrib.auth import get_user_model

        from apps.analytics.rollup import rollup_refresh
        from apps.tenants.models import Membership, Tenant
        from bench.roi_data import generate

        started = time.perf_counter()
        tenant = Tenant.objects.create(slug="bench-roi", name="Bench ROI")
        user = get_user_model().objects.create_user("owner@bench.example", password="x")
        Membership.objects.create(user=user, tenant=tenant, role=Membership.Role.OWNER)
        data = generate(
            tenant,
            ads=args.ads,
            days=args.days,
            tickets=args.tickets,
            active_days=args.active_days,
        )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        built = time.perf_counter() - started
        started = time.perf_counter()
        stats = rollup_refresh(tenant=tenant, full=True)
        rolled = time.perf_counter() - started
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        started = time.perf_counter()
        rollup_refresh(tenant=tenant)
        noop = time.perf_counter() - started
        print(
            f"database={connection.vendor} ads={data.ads} insight_rows={data.insights} "
            f"tickets={data.tickets} days={data.start}..{data.end} "
            f"built in {built:.1f}s"
        )
        print(
            f"rollup: full rebuild {rolled:.1f}s ({stats.spend_days} spend-day rows, "
            f"{stats.directory} directory rows); refresh with nothing new {noop * 1000:.0f} ms"
        )
        client = Client()
        client.force_login(user)
        year = f"range=custom&start={data.start}&end={data.end}"
        month = "range=30d"
        cases = [
            ("ROI, both, 1 year", f"/analytics/roi/?{year}"),
            ("ROI, both, 30 days", f"/analytics/roi/?{month}"),
            ("ROI, Meta campaign, 1 year", f"/analytics/roi/?{year}&platform=meta&campaign=mc0"),
            ("ROI, Meta campaign, 30 days", f"/analytics/roi/?{month}&platform=meta&campaign=mc0"),
            (
                "ROI, Meta ad set, 1 year",
                f"/analytics/roi/?{year}&platform=meta&campaign=mc0&adset=ms0",
            ),
            (
                "ROI, TikTok ad group, 1 year",
                f"/analytics/roi/?{year}&platform=tiktok&campaign=tc0&adset=ts0",
            ),
            ("ROI CSV, both, 1 year", f"/analytics/roi/export/?{year}"),
            ("TikTok, 1 year", f"/analytics/tiktok/?{year}"),
            ("TikTok, 30 days", f"/analytics/tiktok/?{month}"),
        ]
        print(f"{'page':<30}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'queries':>9}")
        measured = measure(client, cases, args.repeat)
        for label, url in cases:
            timings, queries = sorted(measured[label]), count_queries(client, url)
            p95 = timings[max(math.ceil(len(timings) * 0.95) - 1, 0)]  # nearest rank
            print(
                f"{label:<30}{statistics.median(timings):>9.1f}{p95:>9.1f}"
                f"{max(timings):>9.1f}{queries:>9}"
            )
    finally:
        if not args.keep:
            connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
