"""Webhook flood under gunicorn on PostgreSQL: every source, redeliveries, nothing lost or doubled.

Creates its own database (``hub_bench_flood`` on the server of
``DATABASE_URL``), migrates it, gives one tenant a TikTok lead-form URL, starts
gunicorn (``--workers`` sync workers, the production config/gunicorn.py, as
``bench_webhooks.py`` does) and
replays ``--deliveries`` distinct, correctly signed deliveries spread over the
three webhook sources with ``wrk`` (``--connections`` at once):

- TikTok Shop ``ORDER_STATUS_CHANGE`` pushes (``Authorization``: HMAC of app key + body);
- Meta WhatsApp Cloud API messages (``X-Hub-Signature-256``);
- TikTok lead-form deliveries on the tenant's URL (``TikTok-Signature: t=..,s=..``).

``--repeat`` of them (10 % by default) are sent twice, as providers redeliver:
half right after the first copy (both in flight at once, on two
connections), half later in the run. Each request carries its delivery's id in
``X-Request-ID``, which the hub echoes, so every answer is matched to its
delivery. The requests are signed beforehand and written to a file that
``bench/wrk_replay.lua`` replays: a Python load generator would take CPU from
the server on a small machine.

Reported: requests/s, p50/p99 (wrk's), answers by status, 5xx, the events
stored (``WebhookEvent`` rows), the distinct deliveries acknowledged with a
200, and whether every acknowledged delivery's event is stored. Exit status 1
when any answer is a 5xx, when stored events differ from distinct deliveries
acknowledged, or when an acknowledged delivery is missing.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/bench_flood.py
    .venv/bin/python bench/bench_flood.py --deliveries 30000 --connections 100   # bigger
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_webhooks import APP_KEY, APP_SECRET, free_port, server_env, signed_delivery

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
LUA = Path(__file__).resolve().parent / "wrk_replay.lua"
DB_NAME = "hub_bench_flood"
META_SECRET = "bench-meta-app-secret"
TIKTOK_ADS_SECRET = "bench-tiktok-ads-secret"
SOURCES = ("tiktok-shop", "meta", "tiktok-ads")
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class Delivery:
    """One signed delivery; ``key`` is the event it stores: (source, event id)."""

    number: int
    source: str
    event_id: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.event_id)


def _meta_delivery(n: int, run: str) -> tuple[bytes, str, dict[str, str]]:
    wamid = f"wamid.{run}.{n:07d}"
    body = json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "104523789012345",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": "5511930001000",
                                    "phone_number_id": f"1098765432{n % 20:05d}",
                                },
                                "contacts": [
                                    {"profile": {"name": "Ana Souza"}, "wa_id": f"55119{n:08d}"}
                                ],
                                "messages": [
                                    {
                                        "from": f"55119{n:08d}",
                                        "id": wamid,
                                        "timestamp": "1795003600",
                                        "type": "text",
                                        "text": {"body": "Qual o prazo de entrega?"},
                                    }
                                ],
                            },
                        }
                    ],
                }
            ],
        },
        separators=(",", ":"),
    ).encode()
    signature = "sha256=" + hmac.new(META_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return body, wamid, {"X-Hub-Signature-256": signature}


def _lead_delivery(n: int, run: str) -> tuple[bytes, str, dict[str, str]]:
    lead_id = f"73{zlib.crc32(run.encode()) % 10**6:06d}{n:09d}"
    body = json.dumps(
        {
            "request_id": f"{run}{n:012d}",
            "object": 1,
            "time": 1795400005,
            "entry": [
                {
                    "id": lead_id,
                    "lead_source": "INSTANT_FORM",
                    "page_id": "7301111111111111111",
                    "advertiser_id": "7678455504112693940",
                    "campaign_id": "1811269394000000",
                    "adgroup_id": "17112693940000000",
                    "ad_id": "161126939400000000",
                    "create_time": 1795400000,
                }
            ],
        },
        separators=(",", ":"),
    ).encode()
    stamp = str(int(time.time()))
    sig = hmac.new(
        TIKTOK_ADS_SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    return body, f"lead:{lead_id}", {"TikTok-Signature": f"t={stamp},s={sig}"}


def make_deliveries(
    count: int, *, run: str, lead_token: str, sources: tuple[str, ...] = SOURCES
) -> list[Delivery]:
    """``count`` distinct deliveries, the sources in turn."""
    out = []
    for n in range(count):
        source = sources[n % len(sources)]
        if source == "tiktok-shop":
            body, signature = signed_delivery(n, run)
            event_id, headers = f"{run}-{n}", {"Authorization": signature}
            path = "/webhooks/tiktok-shop/"
        elif source == "meta":
            body, event_id, headers = _meta_delivery(n, run)
            path = "/webhooks/meta/"
        else:
            body, event_id, headers = _lead_delivery(n, run)
            path = f"/webhooks/tiktok-ads/{lead_token}/"
        headers = {"Content-Type": "application/json", **headers}
        out.append(Delivery(n, source, event_id, path, headers, body))
    return out


def schedule(
    deliveries: list[Delivery], repeat: float, seed: int = 11
) -> list[tuple[str, Delivery]]:
    """The order of sending: (request id, delivery); ``repeat`` of them twice.

    Half of the repeats right after their first copy (in flight together on
    two connections), the other half at a random later place.
    """
    rng = random.Random(seed)
    twice = set(rng.sample(range(len(deliveries)), int(len(deliveries) * repeat)))
    order: list[tuple[str, Delivery]] = []
    later: list[tuple[str, Delivery]] = []
    for d in deliveries:
        order.append((f"dlv-{d.number:07d}-1", d))
        if d.number in twice:
            item = (f"dlv-{d.number:07d}-2", d)
            if d.number % 2:
                order.append(item)
            else:
                later.append(item)
    for item in later:
        position = rng.randrange(len(order) // 2, len(order) + 1)
        order.insert(position, item)
    return order


def write_requests(path: Path, order: list[tuple[str, Delivery]]) -> None:
    with path.open("w") as out:
        for request_id, d in order:
            headers = "\x1f".join(f"{k}: {v}" for k, v in d.headers.items())
            body = d.body.decode()
            assert "\t" not in body and "\n" not in body
            out.write(f"{request_id}\tPOST\t{d.path}\t{headers}\t{body}\n")


@dataclass
class WrkReport:
    statuses: dict[int, int] = field(default_factory=dict)
    ok_ids: list[str] = field(default_factory=list)
    bad: list[tuple[str, int]] = field(default_factory=list)
    requests: int = 0
    seconds: float = 0.0
    errors: list[int] = field(default_factory=list)  # connect, read, write, status, timeout
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    answered: int = 0
    total: int = 0

    @property
    def server_errors(self) -> int:
        return sum(n for code, n in self.statuses.items() if code >= 500)

    @property
    def rps(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0


def parse_report(path: Path) -> WrkReport:
    report = WrkReport()
    for line in path.read_text().splitlines():
        parts = line.split()
        if parts[0] == "thread":
            report.total += int(parts[3])
            report.answered += int(parts[5])
        elif parts[0] == "status":
            code = int(parts[1])
            report.statuses[code] = report.statuses.get(code, 0) + int(parts[2])
        elif parts[0] == "ok":
            report.ok_ids.append(parts[1])
        elif parts[0] == "bad":
            report.bad.append((parts[1], int(parts[2])))
        elif parts[1] == "requests":
            report.requests = int(parts[2])
        elif parts[1] == "duration_us":
            report.seconds = int(parts[2]) / 1e6
        elif parts[1] == "errors":
            report.errors = [int(x) for x in parts[2:]]
        elif parts[1] in ("p50_us", "p99_us", "max_us"):
            setattr(report, parts[1].replace("_us", "_ms"), float(parts[2]) / 1000)
    return report


def wrk_start(
    port: int,
    requests_file: Path,
    *,
    connections: int,
    threads: int = 1,
    max_seconds: int = 120,
    timeout: str = "30s",
    loops: int = 1,
    delay_ms: int = 0,
) -> tuple[subprocess.Popen, Path]:
    """Start wrk replaying ``requests_file`` (``loops`` times); see :func:`run_wrk`."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    with tempfile.NamedTemporaryFile(suffix=".report", delete=False) as tmp:
        report_path = Path(tmp.name)
    proc = subprocess.Popen(
        [
            wrk,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max_seconds}s",
            f"--timeout={timeout}",
            "-s",
            str(LUA),
            f"http://127.0.0.1:{port}",
            "--",
            str(requests_file),
            str(threads),
            str(report_path),
            str(loops),
            str(delay_ms),
        ],
        stdout=subprocess.DEVNULL,
    )
    return proc, report_path


def wrk_finish(proc: subprocess.Popen, report_path: Path, threads: int = 1) -> WrkReport:
    """Wait until every wrk thread has all its answers, end wrk, read its report.

    wrk's main thread sleeps for the whole ``-d`` duration whatever its threads
    do, so its run time (and requests/s) would be that duration: each thread
    leaves a marker file when done, and SIGINT ends the sleep at once.
    """
    markers = [Path(f"{report_path}.done.{t}") for t in range(threads)]
    while proc.poll() is None:
        if all(marker.exists() for marker in markers):
            proc.send_signal(signal.SIGINT)
            break
        time.sleep(0.01)
    if proc.wait() != 0:
        raise SystemExit(f"wrk failed with status {proc.returncode}")
    for marker in markers:
        marker.unlink(missing_ok=True)
    report = parse_report(report_path)
    report_path.unlink()
    return report


def run_wrk(port: int, requests_file: Path, **options) -> WrkReport:
    """Replay ``requests_file`` and return wrk's figures and every answer.

    One wrk thread by default: when a thread that finished its share stops while
    another goes on, the connections it had just reopened stay idle, and each
    such connection holds a gunicorn sync worker until its timeout (30 s).
    """
    proc, report_path = wrk_start(port, requests_file, **options)
    return wrk_finish(proc, report_path, options.get("threads", 1))


# --- database and server ---------------------------------------------------------------


def database_url(base: str, name: str) -> str:
    return urlunsplit(urlsplit(base)._replace(path=f"/{name}"))


def recreate_database(base: str, name: str) -> None:
    import psycopg

    with psycopg.connect(base.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(base: str, name: str) -> None:
    import psycopg

    with psycopg.connect(base.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def flood_env(db_url: str) -> dict[str, str]:
    env = server_env(db_url)
    env.update(
        META_APP_SECRET=META_SECRET,
        TIKTOK_APP_SECRET=TIKTOK_ADS_SECRET,
        TIKTOK_SHOP_APP_KEY=APP_KEY,
        TIKTOK_SHOP_APP_SECRET=APP_SECRET,
    )
    return env


def django_run(env: dict[str, str], code: str) -> str:
    """Run ``code`` in a fresh interpreter with Django set up; return its stdout."""
    return subprocess.run(
        [PY, "-c", "import django; django.setup()\n" + code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def migrate_and_seed(env: dict[str, str]) -> str:
    """Migrate; give a tenant a lead-form URL; return its token."""
    subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    out = django_run(
        env,
        "from apps.tenants.models import Tenant\n"
        "from apps.capi.models import LeadFormEndpoint\n"
        "t, _ = Tenant.objects.get_or_create(slug='flood', defaults={'name': 'Flood'})\n"
        "e, _ = LeadFormEndpoint.objects.get_or_create(tenant=t)\n"
        "print(e.token)\n",
    )
    return out.strip().splitlines()[-1]


def start_gunicorn(
    env: dict[str, str], port: int, workers: int, threads: int = 1
) -> subprocess.Popen:
    """The production configuration (config/gunicorn.py) on a local port, without access
    log, as bench_webhooks.py starts it; returns once a worker answers."""
    proc = subprocess.Popen(
        [
            str(Path(PY).parent / "gunicorn"),
            "-c",
            "config/gunicorn.py",
            "config.wsgi",
            f"--bind=127.0.0.1:{port}",
            f"--workers={workers}",
            f"--threads={threads}",
            "--log-level=warning",
            "--graceful-timeout=5",
        ],
        cwd=ROOT,
        env={**env, "GUNICORN_ACCESS_LOG": ""},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited with status {proc.returncode}: see its log above")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/webhooks/tiktok-shop/")  # 405, no database
            if conn.getresponse().status == 405:
                return proc
        except OSError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("gunicorn did not start")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def stored_keys(env: dict[str, str]) -> list[tuple[str, str]]:
    """Every stored event's (source, event id)."""
    out = django_run(
        env,
        "from apps.webhooks.models import WebhookEvent as E\n"
        "for s, e in E.objects.values_list('source', 'event_id'):\n"
        "    print(s + '\\t' + e)\n",
    )
    return [tuple(line.split("\t", 1)) for line in out.splitlines() if line]


_ID = re.compile(r"^dlv-(\d{7})-\d$")


def delivery_numbers(request_ids: list[str]) -> set[int]:
    return {int(m.group(1)) for i in request_ids if (m := _ID.match(i))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deliveries", type=int, default=6000, help="distinct deliveries")
    parser.add_argument("--repeat", type=float, default=0.10, help="share sent twice")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (see run_wrk)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--max-seconds", type=int, default=120, help="stop wrk after this long whatever happens"
    )
    parser.add_argument(
        "--sources",
        default=",".join(SOURCES),
        help="comma-separated webhook sources to flood (default: all three)",
    )
    args = parser.parse_args()
    sources = tuple(s for s in args.sources.split(",") if s)
    if not sources or set(sources) - set(SOURCES):
        parser.error(f"--sources takes some of {', '.join(SOURCES)}")

    base = os.environ.get("DATABASE_URL", DEFAULT_SERVER)
    if not base.startswith("postgres"):
        raise SystemExit("bench_flood.py runs on PostgreSQL: set DATABASE_URL=postgres://...")
    db_url = database_url(base, DB_NAME)
    env = flood_env(db_url)
    recreate_database(base, DB_NAME)
    try:
        token = migrate_and_seed(env)
        run = f"flood{int(time.time())}"
        deliveries = make_deliveries(args.deliveries, run=run, lead_token=token, sources=sources)
        order = schedule(deliveries, args.repeat)
        with tempfile.TemporaryDirectory() as tmp:
            requests_file = Path(tmp) / "requests.tsv"
            write_requests(requests_file, order)
            port = free_port()
            server = start_gunicorn(env, port, args.workers)
            try:
                report = run_wrk(
                    port,
                    requests_file,
                    connections=args.connections,
                    threads=args.threads,
                    max_seconds=args.max_seconds,
                )
            finally:
                stop(server)
        stored = stored_keys(env)
    finally:
        if not args.keep:
            drop_database(base, DB_NAME)

    by_number = {d.number: d for d in deliveries}
    acked = delivery_numbers(report.ok_ids)
    answered_ids = set(report.ok_ids) | {i for i, _ in report.bad}
    unanswered = [request_id for request_id, _ in order if request_id not in answered_ids]
    acked_keys = {by_number[n].key for n in acked}
    stored_set = set(stored)
    missing = acked_keys - stored_set
    doubled = len(stored) - len(stored_set)
    per_source = {s: sum(1 for k in stored if k[0] == s) for s in SOURCES}
    print(
        f"database: {db_url.split('@')[-1]}  gunicorn workers: {args.workers}  "
        f"connections: {args.connections}  wrk threads: {args.threads}"
    )
    print(
        f"requests: {len(order):,} ({args.deliveries:,} distinct deliveries, "
        f"{len(order) - args.deliveries:,} sent twice)  answered: {report.answered:,} of "
        f"{report.total:,}  socket errors (connect/read/write/timeout): "
        f"{report.errors[0]}/{report.errors[1]}/{report.errors[2]}/{report.errors[4]}"
    )
    if unanswered:
        print(f"never answered: {len(unanswered)}: {', '.join(unanswered[:10])}")
    statuses = ", ".join(f"{code}: {n:,}" for code, n in sorted(report.statuses.items()))
    print(
        f"{report.rps:,.0f} req/s  p50 {report.p50_ms:.1f} ms  p99 {report.p99_ms:.1f} ms  "
        f"max {report.max_ms:.1f} ms  answers {{{statuses}}}  5xx: {report.server_errors}"
    )
    print(
        f"stored events: {len(stored):,} ({', '.join(f'{s} {n:,}' for s, n in per_source.items())})"
        f"  distinct deliveries acknowledged: {len(acked):,}  "
        f"acknowledged but not stored: {len(missing)}  stored twice: {doubled}"
    )
    failed = report.server_errors > 0 or len(stored) != len(acked) or missing or doubled
    print("RESULT:", "FAIL" if failed else "OK (no 5xx, stored == distinct acknowledged)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
