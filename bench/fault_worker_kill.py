"""Fault: the worker killed with SIGKILL mid-run, then the work run again.

Two scenarios, each in its own throwaway SQLite database (WAL, as on one
machine; ``--database-url`` for PostgreSQL):

**orders** -- a TikTok Shop orders sync against the sandbox. The project
(sandbox included) is served by gunicorn on 127.0.0.1 and the clients point at
it (``SANDBOX_BASE_URL``). A seller is authorized in the sandbox (a real
sandbox token), then ``manage.py sync tiktok_shop orders`` runs in a child
process; after ``--kill-after-pages`` pages it gets SIGKILL. The run is left
``running`` with its last checkpoint. Its lease (``SYNC_RUN_LEASE``, 10
minutes) must pass before a new start takes it over: ``--wait-lease`` waits
for real; by default the script moves the run's heartbeat back by the lease
(what the clock would do) and runs the same command again, which marks the
dead run ``interrupted`` and resumes from its checkpoint. Checked: orders
stored == orders the sandbox has (same ids), none twice, lines unique, and
the second run fetched fewer orders than the whole (it resumed, not restarted).

**conversions** -- ``apps.capi.dispatch.dispatch()`` in a child process sends
``--events`` pending Meta events to a counting endpoint (this process, a
little slow on purpose) and gets SIGKILL after its first requests. The
claimed events stay ``pending`` under the dead worker's lease
(``CLAIM_LEASE``, 5 minutes: moved back the same way, or ``--wait-lease``),
then a second dispatch sends the rest. Checked: every event ``sent``; the
endpoint received every event id; an event id received twice only if its
request was in flight when the worker died (the answer never recorded), and
then with the same event id, which the platforms deduplicate on (at least
once, never lost, never a second event).

    .venv/bin/python bench/fault_worker_kill.py
    .venv/bin/python bench/fault_worker_kill.py --only orders --kill-after-pages 20
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_flood import django_run, free_port, start_gunicorn, stop

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def base_env(db_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=db_url,
        DJANGO_SETTINGS_MODULE="bench_settings",
        PYTHONPATH=f"{ROOT / 'bench'}:{ROOT}",
        DEBUG="false",
        INTEGRATIONS_SANDBOX="true",
    )
    return env


def fresh_sqlite(name: str) -> str:
    path = Path(tempfile.gettempdir()) / f"{name}.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def migrate(env: dict[str, str]) -> None:
    for command in (["migrate", "--noinput", "-v0"], ["createcachetable"]):
        subprocess.run([PY, "manage.py", *command], cwd=ROOT, env=env, check=True)


def age_leases(env: dict[str, str], code: str, wait: float) -> None:
    """Let a dead worker's lease pass: wait for real, or move its timestamps back by it."""
    if wait:
        print(f"  waiting {wait:.0f} s for the lease to pass ...")
        time.sleep(wait)
    else:
        print("  " + django_run(env, code).strip())


# --- orders ---------------------------------------------------------------------------------

ORDERS_SEED = """
from django.utils import timezone
from apps.sandbox import generator, grants, shop_data
from apps.tenants.models import Tenant
from apps.tiktok_shop.models import TikTokShopConnection

account = generator.identities("tiktok_shop")[0].account_id
from apps.sandbox import conf
grant = grants.issue_code(provider="tiktok_shop", account_id=account, scopes=conf.shop_granted_scopes())
grants.redeem_code(provider="tiktok_shop", code=grant.code)
grant.refresh_from_db()
grant = grants.mint_tokens(grant, access_ttl=None)
tenant = Tenant.objects.create(slug="fault", name="Fault")
TikTokShopConnection.objects.create(
    tenant=tenant, access_token=grant.access_token, refresh_token=grant.refresh_token or "",
    external_user_id=account, connected_at=timezone.now(),
)
"""

ORDERS_TRUTH = """
from apps.sandbox import generator, shop_data
account = generator.identities("tiktok_shop")[0].account_id
at = shop_data.now_seconds()
ids = set()
for shop in generator.shops(account):
    ids.update(s.order_id for s in shop_data.states_at(shop_data.orders_for(shop, account), at))
print(len(ids))
"""

ORDERS_STATE = """
import json
from django.db.models import Count
from apps.integrations.models import SyncRun
from apps.tiktok_shop.models import Order, OrderLine
runs = list(SyncRun.objects.filter(product="tiktok_shop", kind="orders").order_by("pk")
            .values("pk", "status", "stats", "checkpoint"))
dup_orders = Order.objects.values("shop_id", "order_id").annotate(n=Count("id")).filter(n__gt=1).count()
print(json.dumps({
    "orders": Order.objects.count(),
    "distinct": Order.objects.values("shop_id", "order_id").distinct().count(),
    "dup_orders": dup_orders,
    "lines": OrderLine.objects.count(),
    "runs": runs,
}, default=str))
"""

ORDERS_AGE = """
from apps.integrations.models import SyncRun
from apps.integrations.sync import SYNC_RUN_LEASE
n = 0
for run in SyncRun.objects.filter(status__in=SyncRun.ACTIVE):
    run.heartbeat_at = run.heartbeat_at - SYNC_RUN_LEASE
    run.created_at = run.created_at - SYNC_RUN_LEASE
    run.save(update_fields=["heartbeat_at", "created_at"])
    n += 1
print(f"moved the heartbeat of {n} dead run(s) back by SYNC_RUN_LEASE ({SYNC_RUN_LEASE})")
"""


def orders_scenario(args: argparse.Namespace) -> list[str]:
    failures: list[str] = []
    db_url = args.database_url or fresh_sqlite("hub_fault_orders")
    env = base_env(db_url)
    migrate(env)
    port = free_port()
    env["SANDBOX_BASE_URL"] = f"http://127.0.0.1:{port}/sandbox"
    env["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{port}"
    server = start_gunicorn(env, port, 2)
    try:
        django_run(env, ORDERS_SEED)
        truth = int(django_run(env, ORDERS_TRUTH).strip().splitlines()[-1])
        print(f"orders: the sandbox seller has {truth:,} orders; syncing ...")
        command = [PY, "manage.py", "sync", "tiktok_shop", "orders", "--tenant", "fault"]
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        pages = 0
        for line in child.stdout:
            if " page " in f" {line}":
                pages += 1
            if pages >= args.kill_after_pages:
                child.send_signal(signal.SIGKILL)
                break
        child.wait()
        if child.returncode != -signal.SIGKILL:
            failures.append(f"the sync ended (status {child.returncode}) before it was killed")
        killed = json.loads(django_run(env, ORDERS_STATE))
        run = killed["runs"][-1]
        print(
            f"  SIGKILL after {pages} pages: run #{run['pk']} left {run['status']!r}, "
            f"{killed['orders']:,} orders stored, checkpoint {json.dumps(run['checkpoint'])[:120]}"
        )
        age_leases(env, ORDERS_AGE, args.wait_lease and 600 + 5)
        rerun = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        tail = [line for line in rerun.stdout.splitlines() if "resuming" in line or "kind=" in line]
        for line in tail:
            print("  rerun:", line)
        if rerun.returncode != 0:
            failures.append(f"the rerun failed: {rerun.stderr[-500:]}")
        final = json.loads(django_run(env, ORDERS_STATE))
        last = final["runs"][-1]
        statuses = [r["status"] for r in final["runs"]]
        print(
            f"  after the rerun: runs {statuses}; orders stored {final['orders']:,} "
            f"(distinct {final['distinct']:,}, stored twice {final['dup_orders']}), "
            f"lines {final['lines']:,}; the sandbox has {truth:,}; second run fetched "
            f"{last['stats'].get('fetched', 0):,}"
        )
        if not any("resuming" in line for line in tail):
            failures.append("the rerun did not resume the killed run")
        if final["orders"] != truth or final["distinct"] != truth or final["dup_orders"]:
            failures.append(f"orders stored {final['orders']} != sandbox {truth}")
        if statuses[:1] != ["interrupted"] or last["status"] != "succeeded":
            failures.append(f"unexpected run statuses {statuses}")
        if last["stats"].get("fetched", 0) >= truth:
            failures.append("the second run fetched everything again: it did not resume")
    finally:
        stop(server)
    return failures


# --- conversions ----------------------------------------------------------------------------


class CountingEndpoint:
    """A Conversions API stand-in in this process: counts each event id it receives."""

    def __init__(self, latency: float) -> None:
        received: Counter = Counter()
        requests = [0]

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                events = body.get("data") or []
                requests[0] += 1
                for event in events:
                    received[event["event_id"]] += 1
                time.sleep(latency)
                data = json.dumps(
                    {"events_received": len(events), "messages": [], "fbtrace_id": "Afault"}
                ).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except BrokenPipeError:  # the worker was killed while waiting: expected
                    pass

        self.received, self.requests = received, requests
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


CAPI_SEED = """
import bench_capi
from apps.capi.models import ConversionDestination
from apps.tenants.models import Tenant
tenant = Tenant.objects.create(slug="fault-capi", name="Fault")
meta = ConversionDestination.objects.create(tenant=tenant, platform="meta",
    external_id=bench_capi.DATASET, kind="waba_dataset", waba_id=bench_capi.WABA)
bench_capi.seed(tenant, meta, {events}, 0)
"""

CAPI_DISPATCH = """
import os, bench_capi
from django.conf import settings
from apps.capi.registry import conversion_platforms
from apps.capi.dispatch import dispatch
settings.META_GRAPH_BASE = os.environ["FAULT_ENDPOINT"]
conversion_platforms.set_object("meta", bench_capi.BenchPlatform())
print(dispatch(claim_size={claim}).summary(), flush=True)
"""

CAPI_STATE = """
import json
from collections import Counter
from apps.capi.models import ConversionEvent as E
print(json.dumps({
    "by_status": dict(Counter(E.objects.values_list("status", flat=True))),
    "claimed": E.objects.exclude(claim_token="").count(),
    "sent_ids": list(E.objects.filter(status="sent").values_list("event_id", flat=True)),
    "all_ids": list(E.objects.values_list("event_id", flat=True)),
}))
"""

CAPI_AGE = """
from apps.capi.dispatch import CLAIM_LEASE
from apps.capi.models import ConversionEvent as E
from django.db.models import F
n = E.objects.exclude(claim_token="").filter(claimed_until__isnull=False).update(
    claimed_until=F("claimed_until") - CLAIM_LEASE)
print(f"moved back by CLAIM_LEASE ({CLAIM_LEASE}) the claims of {n} event(s)")
"""


def conversions_scenario(args: argparse.Namespace) -> list[str]:
    failures: list[str] = []
    db_url = args.database_url or fresh_sqlite("hub_fault_capi")
    env = base_env(db_url)
    migrate(env)
    endpoint = CountingEndpoint(latency=args.endpoint_latency)
    env["FAULT_ENDPOINT"] = endpoint.url
    django_run(env, CAPI_SEED.format(events=args.events))
    print(f"conversions: {args.events:,} pending Meta events; dispatching ...")
    code = "import django; django.setup()\n" + CAPI_DISPATCH.format(claim=args.claim)
    child = subprocess.Popen([PY, "-c", code], cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while endpoint.requests[0] < args.kill_after_requests and time.monotonic() < deadline:
        if child.poll() is not None:
            break
        time.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    child.wait()
    if child.returncode != -signal.SIGKILL:
        failures.append(f"the dispatcher ended (status {child.returncode}) before it was killed")
    killed = json.loads(django_run(env, CAPI_STATE))
    in_flight = len(endpoint.received)
    print(
        f"  SIGKILL after {endpoint.requests[0]} requests ({in_flight:,} events received): "
        f"events by status {killed['by_status']}, {killed['claimed']:,} still claimed"
    )
    age_leases(env, CAPI_AGE, args.wait_lease and 300 + 5)
    rerun = subprocess.run([PY, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    print("  rerun:", rerun.stdout.strip() or rerun.stderr[-300:])
    final = json.loads(django_run(env, CAPI_STATE))
    twice = sorted(i for i, n in endpoint.received.items() if n > 1)
    over = [i for i, n in endpoint.received.items() if n > 2]
    never = set(final["all_ids"]) - set(endpoint.received)
    print(
        f"  after the rerun: events by status {final['by_status']}; the endpoint got "
        f"{len(endpoint.received):,} distinct event ids in {endpoint.requests[0]} requests; "
        f"never received {len(never)}; received twice {len(twice)} (same event id, "
        f"requests in flight at the kill: at most {args.claim:,}); more than twice {len(over)}"
    )
    if final["by_status"] != {"sent": args.events}:
        failures.append(f"not every event is sent: {final['by_status']}")
    if never:
        failures.append(f"{len(never)} events never reached the endpoint")
    if over or len(twice) > min(args.claim, 1000):
        failures.append("events were sent more often than one in-flight batch explains")
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=["orders", "conversions"])
    parser.add_argument("--database-url", help="default: a fresh SQLite file per scenario")
    parser.add_argument("--kill-after-pages", type=int, default=10)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--claim", type=int, default=1000, help="events a dispatch claims at once")
    parser.add_argument("--kill-after-requests", type=int, default=2)
    parser.add_argument("--endpoint-latency", type=float, default=0.3)
    parser.add_argument("--wait-lease", action="store_true", help="wait for leases for real")
    args = parser.parse_args()

    failures: list[str] = []
    if args.only in (None, "orders"):
        failures += orders_scenario(args)
    if args.only in (None, "conversions"):
        failures += conversions_scenario(args)
    for failure in failures:
        print("FAIL:", failure)
    print("RESULT:", "FAIL" if failures else "OK (nothing lost, nothing doubled)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
