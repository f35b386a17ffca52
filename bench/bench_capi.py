"""The conversions dispatcher: events per second into a local fake endpoint, requests, queries.

In a throwaway test database created from the configured one (``DATABASE_URL``):

1. ``--events`` pending Meta Business Messaging events for one dataset are
   stored as the triggers store them (payloads built and hashed by
   ``apps.capi.platforms``), then ``apps.capi.dispatch.dispatch()`` sends them
   **end to end**: claim (conditional UPDATE), group, JSON, one HTTP request
   per batch of 1,000 to a fake Conversions API on 127.0.0.1 (its own process,
   answering ``{"events_received", "messages", "fbtrace_id"}`` at once),
   the call log, the answer written back. Reported: events/s, requests per
   1,000 events, and the fake endpoint's count of events received, which must
   equal the events sent (none lost, none twice).
2. The same for TikTok's Events API (``event/track/``).
3. With ``--workers N`` (default 2) the Meta run again, by N processes at once,
   each claiming 1,000 events at a time: every event must still reach the
   endpoint exactly once.
4. Queries of one batch, for 10 and for 1,000 events (they must be equal).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/bench_capi.py
    .venv/bin/python bench/bench_capi.py --events 5000          # SQLite
    .venv/bin/python bench/bench_capi.py --latency-ms 50        # a slower endpoint
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.request import urlopen

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.conf import settings
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext, setup_test_environment
from django.utils import timezone

DATASET = "912345678901234"
WABA = "102290129340398"
PIXEL_CODE = "CUIVTBIE2FSNIPZQ4IYE"


# --- the fake endpoint (its own process) -------------------------------------------------------


def _serve(port_queue, latency: float) -> None:
    received: Counter = Counter()
    stats = {"requests": 0}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def _answer(self, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # /stats
            self._answer(
                {
                    "requests": stats["requests"],
                    "events": sum(received.values()),
                    "distinct": len(received),
                    "duplicates": sum(1 for n in received.values() if n > 1),
                }
            )

        def do_DELETE(self) -> None:  # /stats: start over
            received.clear()
            stats["requests"] = 0
            self._answer({})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            stats["requests"] += 1
            events = body.get("data") or []
            for event in events:
                received[(self.path.split("?")[0], event["event_id"])] += 1
            if latency:
                time.sleep(latency)
            if "/event/track/" in self.path:
                self._answer({"code": 0, "message": "OK", "request_id": "2026bench", "data": {}})
            else:
                self._answer(
                    {"events_received": len(events), "messages": [], "fbtrace_id": "Abench"}
                )

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port_queue.put(server.server_address[1])
    server.serve_forever()


class FakeEndpoint:
    def __init__(self, latency: float) -> None:
        ctx = multiprocessing.get_context("fork")
        queue = ctx.Queue()
        self.process = ctx.Process(target=_serve, args=(queue, latency), daemon=True)
        self.process.start()
        self.url = f"http://127.0.0.1:{queue.get(timeout=10)}"

    def stats(self) -> dict:
        with urlopen(f"{self.url}/stats", timeout=5) as response:  # noqa: S310 - local
            return json.loads(response.read())

    def reset(self) -> None:
        from urllib.request import Request

        urlopen(Request(f"{self.url}/stats", method="DELETE"), timeout=5).close()  # noqa: S310

    def stop(self) -> None:
        self.process.terminate()
        self.process.join()


# --- the hub's side -------------------------------------------------------------------------------


class BenchPlatform:
    """Stands in for a platform app: one destination, one token."""

    def target_for(self, *, facts, mapping):
        return None

    def targets(self, *, tenant, mapping):
        return []

    def access_token(self, *, tenant, destination):
        return "bench-token"


def seed(tenant, destination, count: int, start: int) -> float:
    """Store ``count`` pending events as the triggers do; returns seconds taken."""
    from apps.capi.models import ConversionEvent
    from apps.capi.platforms import CustomerInfo, meta_messaging_event, tiktok_web_event

    at = timezone.now() - timedelta(minutes=10)
    started = time.perf_counter()
    rows = []
    for n in range(start, start + count):
        customer = CustomerInfo(phone=f"55119{n:08d}", external_id=f"contact-{n}")
        if destination.platform == "meta":
            payload = meta_messaging_event(
                event_name="LeadSubmitted",
                event_id=f"lead-{n}",
                event_time=at,
                waba_id=WABA,
                ctwa_clid=f"ARAkLk-{n:012d}",
                customer=customer,
                value=None,
                currency="",
            )
        else:
            payload = tiktok_web_event(
                event_name="Lead",
                event_id=f"lead-{n}",
                event_time=at,
                ttclid=f"E.C.P.{n:012d}",
                customer=customer,
                value=None,
                currency="",
            )
        rows.append(
            ConversionEvent(
                tenant=tenant,
                platform=destination.platform,
                destination=destination,
                event_name="LeadSubmitted" if destination.platform == "meta" else "Lead",
                event_id=f"lead-{n}",
                click_id=f"click-{n}",
                event_time=at,
                payload=payload,
            )
        )
        if len(rows) == 2000:
            ConversionEvent.objects.bulk_create(rows)
            rows = []
    ConversionEvent.objects.bulk_create(rows)
    return time.perf_counter() - started


def setup_hub(endpoint: FakeEndpoint):
    from apps.capi.models import ConversionDestination
    from apps.capi.registry import conversion_platforms
    from apps.tenants.models import Tenant

    settings.META_GRAPH_BASE = endpoint.url
    settings.TIKTOK_ADS_API_BASE = endpoint.url
    conversion_platforms.set_object("meta", BenchPlatform())
    conversion_platforms.set_object("tiktok", BenchPlatform())
    tenant = Tenant.objects.create(slug="bench-capi", name="Bench")
    meta = ConversionDestination.objects.create(
        tenant=tenant, platform="meta", external_id=DATASET, kind="waba_dataset", waba_id=WABA
    )
    tiktok = ConversionDestination.objects.create(
        tenant=tenant, platform="tiktok", external_id=PIXEL_CODE
    )
    return tenant, meta, tiktok


def run_once(label, tenant, destination, endpoint, count: int, start: int) -> dict:
    from apps.capi.dispatch import dispatch
    from apps.capi.models import ConversionEvent

    endpoint.reset()
    seconds_seed = seed(tenant, destination, count, start)
    print(f"  {label}: {count:,} pending events stored in {seconds_seed:.2f}s; dispatching ...")
    progress_every = max(1, count // 5)
    state = {"next": progress_every}

    def progress(result) -> None:
        if result.sent >= state["next"]:
            print(f"    ... {result.summary()}")
            state["next"] += progress_every

    started = time.perf_counter()
    dispatch(progress=progress)
    elapsed = time.perf_counter() - started
    stats = endpoint.stats()
    sent = ConversionEvent.objects.filter(
        destination=destination,
        status="sent",
        event_id__in=[f"lead-{n}" for n in range(start, start + count)],
    ).count()
    assert sent == count, (sent, count)
    assert stats["events"] == count and stats["duplicates"] == 0, stats
    return {
        "label": label,
        "events": count,
        "seconds": elapsed,
        "rate": count / elapsed,
        "requests": stats["requests"],
        "per_1000": 1000 * stats["requests"] / count,
    }


#: Each worker claims this many at a time, so the workers share the backlog.
WORKER_CLAIM = 1000


def _worker(start_barrier, results) -> None:
    from apps.capi.dispatch import dispatch

    connections.close_all()
    start_barrier.wait()
    results.put(dispatch(claim_size=WORKER_CLAIM).sent)
    connections.close_all()


def run_workers(tenant, destination, endpoint, count: int, start: int, workers: int) -> dict:
    endpoint.reset()
    seed(tenant, destination, count, start)
    print(f"  {workers} workers at once: {count:,} pending events; dispatching ...")
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(workers + 1)
    sent_by = ctx.Queue()
    processes = [ctx.Process(target=_worker, args=(barrier, sent_by)) for _ in range(workers)]
    for process in processes:
        process.start()
    barrier.wait()
    started = time.perf_counter()
    for process in processes:
        process.join()
        assert process.exitcode == 0, process.exitcode
    elapsed = time.perf_counter() - started
    shares = sorted(sent_by.get(timeout=5) for _ in processes)
    print(f"    events sent by each worker: {shares}")
    stats = endpoint.stats()
    assert stats["events"] == count and stats["duplicates"] == 0, stats
    return {
        "label": f"Meta, {workers} workers",
        "events": count,
        "seconds": elapsed,
        "rate": count / elapsed,
        "requests": stats["requests"],
        "per_1000": 1000 * stats["requests"] / count,
    }


def queries_per_batch(tenant, destination, start: int) -> list[tuple[int, int]]:
    from apps.capi.dispatch import dispatch

    found = []
    for size in (10, 1000):
        seed(tenant, destination, size, start)
        start += size
        with CaptureQueriesContext(connection) as captured:
            dispatch()
        # The last query is the claim that finds nothing left.
        found.append((size, len(captured)))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000, help="events per run")
    parser.add_argument("--workers", type=int, default=2, help="processes for run 3 (0 skips)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="the endpoint's delay")
    args = parser.parse_args()

    setup_test_environment(debug=False)
    logging.disable(logging.INFO)
    database = settings.DATABASES["default"]
    scratch = None
    if database["ENGINE"] == "django.db.backends.sqlite3":
        scratch = tempfile.TemporaryDirectory()
        database.setdefault("TEST", {})["NAME"] = str(Path(scratch.name) / "bench.sqlite3")
    else:
        database.setdefault("TEST", {})["NAME"] = f"test_bench_capi_{os.getpid()}"
    endpoint = FakeEndpoint(args.latency_ms / 1000)
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        version = connection.pg_version if connection.vendor == "postgresql" else None
        shown = f" {version // 10000}.{version % 10000}" if version else ""
        print(
            f"database={connection.vendor}{shown} events={args.events:,} "
            f"claim={settings.CAPI_DISPATCH_CLAIM} endpoint latency={args.latency_ms:g} ms"
        )
        tenant, meta, tiktok = setup_hub(endpoint)
        results = [
            run_once("Meta Conversions API", tenant, meta, endpoint, args.events, 0),
            run_once("TikTok Events API", tenant, tiktok, endpoint, args.events, 10**7),
        ]
        if args.workers > 0:
            results.append(
                run_workers(tenant, meta, endpoint, args.events, 2 * 10**7, args.workers)
            )
        print("results (end to end: claim, JSON, HTTP, answer written back):")
        for r in results:
            print(
                f"  {r['label']:<22} {r['events']:>8,} events {r['seconds']:>7.2f}s "
                f"{r['rate']:>9,.0f} events/s  {r['requests']:>4} requests "
                f"({r['per_1000']:.2f} per 1,000 events)"
            )
        print("queries per dispatcher batch (claim + one batch + the empty claim that ends it):")
        for size, count in queries_per_batch(tenant, meta, 3 * 10**7):
            print(f"  {size:>5} events: {count} queries")
    finally:
        connections.close_all()
        connection.creation.destroy_test_db(old_name, verbosity=0)
        endpoint.stop()
        if scratch is not None:
            scratch.cleanup()


if __name__ == "__main__":
    main()
