"""Fault: PostgreSQL stopped in the middle of a webhook flood, then started again.

Never touches the shared PostgreSQL: the script creates a throwaway cluster
(``initdb`` as the ``postgres`` OS user into ``--data``, default
``/tmp/pgfault``, served on port ``--port``, default 5499, sockets in /tmp),
migrates a database on it, starts the hub under gunicorn (2 sync workers, as
``bench_flood.py``) and replays signed deliveries of the three webhook sources
with ``wrk`` at a steady pace (``--delay-ms`` per connection between
requests). ``--outage-at`` seconds into the flood it stops the cluster
(``pg_ctl stop -m fast``), keeps sending and times a few single deliveries
itself while the database is down, then starts the cluster again after
``--outage-for`` seconds. After the flood it:

1. checks every answer was a 200 or a 5xx, and that **every delivery answered
   200 is stored** (a 200 the hub then lost would be the failure that matters);
2. resends the deliveries that never got a 200, as a provider retries, and
   checks **stored events == distinct deliveries**, none stored twice;
3. drains the inbox once to show processing resumed: every stored event is
   claimed and handled (the accounts are unknown to this database, so each is
   flagged ``unroutable``: the inbox's own path, no provider calls).

Exit status 1 if any check fails. Needs root (it runs ``runuser -u postgres``).

    .venv/bin/python bench/fault_pg_outage.py
    .venv/bin/python bench/fault_pg_outage.py --deliveries 6000 --delay-ms 50 --outage-at 5
"""

from __future__ import annotations

import argparse
import http.client
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_flood import (
    Delivery,
    delivery_numbers,
    django_run,
    flood_env,
    free_port,
    make_deliveries,
    migrate_and_seed,
    recreate_database,
    run_wrk,
    schedule,
    start_gunicorn,
    stop,
    stored_keys,
    write_requests,
    wrk_finish,
    wrk_start,
)

PGBIN = Path("/usr/lib/postgresql/15/bin")
RUNUSER = shutil.which("runuser") or "/usr/sbin/runuser"
DB_NAME = "hub_fault_pg"


class Cluster:
    """A throwaway PostgreSQL cluster owned by the ``postgres`` OS user."""

    def __init__(self, data: Path, port: int) -> None:
        self.data, self.port = data, port
        self.url = f"postgres://postgres@127.0.0.1:{port}/postgres"

    def _as_postgres(self, *args: str, check: bool = True) -> None:
        subprocess.run(
            [RUNUSER, "-u", "postgres", "--", *args],
            check=check,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL if not check else None,
        )

    def create(self) -> None:
        if self.data.exists():
            self._as_postgres(str(PGBIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                              "stop", check=False)  # fmt: skip
            shutil.rmtree(self.data)
        self.data.mkdir(parents=True)
        shutil.chown(self.data, "postgres", "postgres")
        self._as_postgres(str(PGBIN / "initdb"), "-D", str(self.data), "-U", "postgres",
                          "--auth=trust", "-E", "UTF8")  # fmt: skip

    def start(self) -> None:
        self._as_postgres(str(PGBIN / "pg_ctl"), "-D", str(self.data), "-o",
                          f"-p {self.port} -k /tmp -c max_connections=200",
                          "-l", str(self.data / "server.log"), "-w", "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._as_postgres(str(PGBIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        self._as_postgres(str(PGBIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                          "stop", check=False)  # fmt: skip
        shutil.rmtree(self.data, ignore_errors=True)


def send_one(port: int, delivery: Delivery, request_id: str) -> tuple[int, float]:
    """POST one delivery; (status or 0 on a socket error, seconds)."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(
            "POST",
            delivery.path,
            body=delivery.body,
            headers={**delivery.headers, "X-Request-ID": request_id},
        )
        status = conn.getresponse().status
    except OSError:
        status = 0
    finally:
        conn.close()
    return status, time.perf_counter() - started


def drain_all(env: dict[str, str]) -> str:
    return django_run(
        env,
        "from collections import Counter\n"
        "from apps.webhooks.models import WebhookEvent as E\n"
        "from apps.webhooks.services import drain\n"
        "r = drain(batch_size=500)\n"
        "left = E.objects.filter(status__in=['received', 'processing']).count()\n"
        "by = Counter(E.objects.values_list('status', flat=True))\n"
        "print(r.claimed, left, dict(by))\n",
    ).strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deliveries", type=int, default=3000)
    parser.add_argument("--repeat", type=float, default=0.10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--delay-ms", type=int, default=100, help="pause per connection")
    parser.add_argument("--outage-at", type=float, default=3.0, help="seconds into the flood")
    parser.add_argument("--outage-for", type=float, default=5.0, help="seconds down")
    parser.add_argument("--probes", type=int, default=3, help="timed deliveries while down")
    parser.add_argument("--data", type=Path, default=Path("/tmp/pgfault"))  # noqa: S108
    parser.add_argument("--port", type=int, default=5499)
    parser.add_argument("--max-seconds", type=int, default=180)
    args = parser.parse_args()

    cluster = Cluster(args.data, args.port)
    cluster.create()
    cluster.start()
    server = None
    failures: list[str] = []
    try:
        recreate_database(cluster.url, DB_NAME)
        env = flood_env(cluster.url.rsplit("/", 1)[0] + f"/{DB_NAME}")
        token = migrate_and_seed(env)
        run = f"outage{int(time.time())}"
        every = make_deliveries(args.deliveries + args.probes, run=run, lead_token=token)
        flood, probes = every[: args.deliveries], every[args.deliveries :]
        order = schedule(flood, args.repeat)
        port = free_port()
        server = start_gunicorn(env, port, 2)
        with tempfile.TemporaryDirectory() as tmp:
            requests_file = Path(tmp) / "flood.tsv"
            write_requests(requests_file, order)
            started = time.monotonic()
            proc, report_path = wrk_start(
                port,
                requests_file,
                connections=args.connections,
                max_seconds=args.max_seconds,
                delay_ms=args.delay_ms,
            )
            # End wrk as soon as every request is answered (see bench_flood.wrk_finish): left
            # running, its reopened idle connections would hold gunicorn's sync workers.
            finished: list = []
            finisher = threading.Thread(
                target=lambda: finished.append(wrk_finish(proc, report_path)), daemon=True
            )
            finisher.start()
            time.sleep(args.outage_at)
            if finished:
                failures.append("the flood ended before the outage: raise --deliveries")
            cluster.stop("fast")
            down_at = time.monotonic() - started
            probe_results: list[tuple[str, int, float]] = []

            def probe() -> None:
                for k, d in enumerate(probes):
                    status, seconds = send_one(port, d, f"dlv-{d.number:07d}-1")
                    probe_results.append((f"probe {k + 1}", status, seconds))

            prober = threading.Thread(target=probe)
            prober.start()
            time.sleep(args.outage_for)
            prober.join()
            cluster.start()
            up_at = time.monotonic() - started
            finisher.join()
            report = finished[0]
            ended_at = time.monotonic() - started

            print(
                f"flood: {len(order):,} requests ({args.deliveries:,} distinct deliveries, "
                f"{len(order) - args.deliveries:,} sent twice), {args.connections} connections, "
                f"{args.delay_ms} ms pause each; PostgreSQL stopped at {down_at:.1f} s, "
                f"started again at {up_at:.1f} s; the flood ended at {ended_at:.1f} s"
            )
            statuses = ", ".join(f"{c}: {n:,}" for c, n in sorted(report.statuses.items()))
            print(
                f"answers {{{statuses}}}  p50 {report.p50_ms:.1f} ms  p99 {report.p99_ms:.1f} ms"
                f"  max {report.max_ms:.1f} ms  socket errors (connect/read/write/timeout): "
                f"{report.errors[0]}/{report.errors[1]}/{report.errors[2]}/{report.errors[4]}"
            )
            for label, status, seconds in probe_results:
                print(f"while down, {label}: answered {status} in {seconds * 1000:.0f} ms")
                if not 500 <= status < 600:
                    failures.append(f"{label} while down answered {status}, not a 5xx")
                if seconds > 6:
                    failures.append(f"{label} took {seconds:.1f} s: the hub hangs while down")
            position = {request_id: i for i, (request_id, _) in enumerate(order)}
            last_5xx = max((position[i] for i, c in report.bad if c >= 500), default=-1)
            resumed = sum(1 for i in report.ok_ids if position.get(i, -1) > last_5xx)
            print(
                f"answered 200 after the last 5xx (in sending order): {resumed:,} "
                "(ingestion resumed within the flood)"
            )
            odd = sorted({c for c in report.statuses if c != 200 and not 500 <= c < 600})
            if odd:
                failures.append(f"answers neither 200 nor 5xx: {odd}")
            if report.server_errors == 0:
                failures.append("no delivery met the outage: nothing was tested")
            if report.answered != report.total:
                failures.append(f"{report.total - report.answered} requests never answered")

            by_number = {d.number: d for d in every}
            acked = delivery_numbers(report.ok_ids)
            acked |= {int(p.number) for p, r in zip(probes, probe_results, strict=False)
                      if r[1] == 200}  # fmt: skip
            stored = set(stored_keys(env))
            lost = {by_number[n].key for n in acked} - stored
            print(
                f"distinct deliveries answered 200: {len(acked):,}  stored events: "
                f"{len(stored):,}  answered 200 but not stored: {len(lost)}"
            )
            if lost:
                failures.append(f"{len(lost)} deliveries answered 200 were lost")

            # The provider retries what it did not get a 200 for.
            retry = [d for d in every if d.number not in acked]
            retry_file = Path(tmp) / "retry.tsv"
            write_requests(retry_file, [(f"dlv-{d.number:07d}-3", d) for d in retry])
            again = run_wrk(port, retry_file, connections=min(args.connections, len(retry) or 1))
            print(
                f"retried {len(retry):,} deliveries without a 200: answers "
                f"{dict(sorted(again.statuses.items()))}"
            )
            if again.answered != len(retry) or set(again.statuses) - {200}:
                failures.append("a retried delivery did not get a 200 after the restart")

        stored_list = stored_keys(env)
        doubled = len(stored_list) - len(set(stored_list))
        expected = {d.key for d in every}
        print(
            f"after retries: stored events {len(stored_list):,}  distinct deliveries "
            f"{len(expected):,}  missing {len(expected - set(stored_list))}  stored twice {doubled}"
        )
        if set(stored_list) != expected or doubled:
            failures.append("stored events differ from the distinct deliveries")
        claimed, left, by_status = drain_all(env).split(" ", 2)
        print(
            f"drain after restart: claimed {claimed}, left unclaimed {left}, by status {by_status}"
        )
        if int(claimed) != len(stored_list) or int(left) != 0:
            failures.append("the drain did not take every stored event")
    finally:
        if server is not None:
            stop(server)
        cluster.destroy()
    for failure in failures:
        print("FAIL:", failure)
    print(
        "RESULT:", "FAIL" if failures else "OK (no 200 lost, nothing doubled, processing resumed)"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
