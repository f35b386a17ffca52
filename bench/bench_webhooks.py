"""Webhook ingest under gunicorn: requests/s, p50/p99, and nothing lost.

Creates a throwaway database (PostgreSQL: ``hub_bench_webhooks`` on the
server of ``DATABASE_URL``; SQLite: a temporary file), migrates it, starts
gunicorn with the production configuration (config/gunicorn.py: ``--workers``
threaded workers) on it and fires correctly signed TikTok Shop
ORDER_STATUS_CHANGE deliveries from ``--concurrency`` clients on the same
machine: with ``wrk`` (``apt-get install wrk``), ``--requests`` distinct
deliveries for ``--seconds``, repeated if they run out; without it, Python
threads sending each of ``--requests`` once. Then it counts the events stored
and checks the count equals the distinct deliveries the server received (a
repeat must not be stored twice), and drains them once to show processing keeps up
(the shops are unknown to this database, so each event is routed, flagged
``unroutable`` and kept: the inbox's own cost, without provider calls).

``--target bare`` measures the floor instead: a plain Django view doing one
HMAC check and one INSERT (bench/bench_urls.py). ``--target both`` runs both.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/bench_webhooks.py
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import hmac
import http.client
import json
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
APP_KEY = "sandboxshopkey"
APP_SECRET = "sandbox-tiktok-shop-secret"
PATHS = {"hub": "/webhooks/tiktok-shop/", "bare": "/bench/bare-webhook/"}


def bench_database_url(base: str) -> str:
    if base.startswith("postgres"):
        parts = urlsplit(base)
        return urlunsplit(parts._replace(path="/hub_bench_webhooks"))
    return f"sqlite:///{tempfile.gettempdir()}/hub_bench_webhooks.sqlite3"


def recreate_database(url: str, base: str) -> None:
    if url.startswith("sqlite"):
        path = Path(urlsplit(url).path[1:] if url.startswith("sqlite:////") else urlsplit(url).path)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    import psycopg

    with psycopg.connect(_libpq(base), autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS hub_bench_webhooks WITH (FORCE)")
        conn.execute("CREATE DATABASE hub_bench_webhooks")


def drop_database(url: str, base: str) -> None:
    if url.startswith("postgres"):
        import psycopg

        with psycopg.connect(_libpq(base), autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS hub_bench_webhooks WITH (FORCE)")


def _libpq(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


def server_env(db_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=db_url,
        DJANGO_SETTINGS_MODULE="bench_settings",
        PYTHONPATH=f"{ROOT / 'bench'}:{ROOT}",
        DEBUG="false",
        TIKTOK_SHOP_APP_KEY=APP_KEY,
        TIKTOK_SHOP_APP_SECRET=APP_SECRET,
        WEBHOOKS_DRAIN_KICK_INTERVAL="1",
    )
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(env: dict[str, str], port: int, workers: int, threads: int) -> subprocess.Popen:
    """The production configuration (config/gunicorn.py), on a local port, without access log."""
    worker_class = "gthread" if threads > 1 else "sync"
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
        ],
        cwd=ROOT,
        env={**env, "GUNICORN_ACCESS_LOG": "", "GUNICORN_WORKER_CLASS": worker_class},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("gunicorn did not start")


def signed_delivery(n: int, run: str) -> tuple[bytes, str]:
    body = json.dumps(
        {
            "type": 1,
            "tts_notification_id": f"{run}-{n}",
            "shop_id": f"74955407353657{n % 50:05d}",
            "timestamp": 1718305585,
            "data": {
                "is_on_hold_order": False,
                "order_id": f"5766536881352{n:05d}",
                "order_status": "AWAITING_SHIPMENT",
                "update_time": 1718305585,
            },
        },
        separators=(",", ":"),
    ).encode()
    signature = hmac.new(APP_SECRET.encode(), APP_KEY.encode() + body, hashlib.sha256).hexdigest()
    return body, signature


def client_process(args: tuple) -> tuple[list[float], int, int]:
    port, path, numbers, threads, run = args
    chunks = [numbers[i::threads] for i in range(threads)]
    latencies: list[float] = []
    counts = {"ok": 0, "bad": 0}
    lock = threading.Lock()

    def worker(chunk: list[int]) -> None:
        mine, ok, bad = [], 0, 0
        prepared = [signed_delivery(n, run) for n in chunk]
        for body, signature in prepared:
            started = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                conn.request(
                    "POST",
                    path,
                    body=body,
                    headers={"Content-Type": "application/json", "Authorization": signature},
                )
                status = conn.getresponse().status
            except OSError:
                status = 0
            finally:
                conn.close()
            mine.append(time.perf_counter() - started)
            ok, bad = (ok + 1, bad) if status == 200 else (ok, bad + 1)
        with lock:
            latencies.extend(mine)
            counts["ok"] += ok
            counts["bad"] += bad

    pool = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return latencies, counts["ok"], counts["bad"]


def fire(port: int, path: str, total: int, concurrency: int, run: str) -> dict:
    processes = min(4, concurrency)
    numbers = list(range(total))
    jobs = [
        (port, path, numbers[p::processes], concurrency // processes, run) for p in range(processes)
    ]
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        results = pool.map(client_process, jobs)
    elapsed = time.perf_counter() - started
    latencies = sorted(lat for r in results for lat in r[0])
    return {
        "elapsed": elapsed,
        "ok": sum(r[1] for r in results),
        "bad": sum(r[2] for r in results),
        "rps": total / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


WRK_SCRIPT = r"""
-- Each wrk thread sends its own slice of the pre-signed deliveries (one per
-- line: signature, tab, body) in order, and starts the slice again if it runs
-- out before the time is up: those repeats are duplicates the hub dedupes.
-- request() runs right before a request is written, so "sent" counts what
-- reached the server, answered or still in flight when wrk stopped.
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local nthreads = tonumber(args[2])
  path, sigs, bodies, sent = args[3], {}, {}, 0
  local i = 0
  for line in io.lines(args[1]) do
    if i % nthreads == id then
      local tab = line:find("\t", 1, true)
      table.insert(sigs, line:sub(1, tab - 1))
      table.insert(bodies, line:sub(tab + 1))
    end
    i = i + 1
  end
  nbodies = #bodies
  -- wrk calls request() once on thread 0 before the run (to count pipelined
  -- requests) and throws the answer away: that call must not count as sent.
  verify_call = (id == 0)
end

function request()
  local k = sent % nbodies + 1
  if verify_call then
    verify_call = false
  else
    sent = sent + 1
  end
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/json", ["Authorization"] = sigs[k],
    ["Connection"] = "close",
  }, bodies[k])
end

function done(summary, latency, requests)
  local sent, distinct = 0, 0
  for _, t in ipairs(threads) do
    sent = sent + t:get("sent")
    distinct = distinct + math.min(t:get("sent"), t:get("nbodies"))
  end
  io.write(string.format(
    "WRK %d %d %d %d %d %d %.3f %.3f\n", summary.requests, summary.duration,
    summary.errors.status, summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout,
    sent, distinct, latency:percentile(50) / 1000, latency:percentile(99) / 1000
  ))
end
"""


def fire_wrk(port: int, path: str, total: int, concurrency: int, run: str, seconds: int) -> dict:
    """Fire with wrk for ``seconds``: a C load generator leaves the CPU to the server.

    ``total`` distinct deliveries are prepared; a thread that runs out starts
    its slice again (duplicates). ``distinct`` counts the deliveries that
    reached the server, which is what must be stored.
    """
    threads = 2
    with tempfile.TemporaryDirectory() as tmp:
        data, script = Path(tmp) / "deliveries.tsv", Path(tmp) / "deliveries.lua"
        with data.open("w") as out:
            for n in range(total):
                body, signature = signed_delivery(n, run)
                out.write(f"{signature}\t{body.decode()}\n")
        script.write_text(WRK_SCRIPT)
        result = subprocess.run(
            [
                shutil.which("wrk") or "wrk", f"-t{threads}", f"-c{concurrency}", f"-d{seconds}s", "--timeout=10s",
                f"-s{script}", f"http://127.0.0.1:{port}{path}",
                "--", str(data), str(threads), path,
            ],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    line = next(x for x in result.stdout.splitlines() if x.startswith("WRK "))
    answered, micros, bad_status, errors, sent, distinct, p50, p99 = line.split()[1:]
    answered, elapsed = int(answered), int(micros) / 1e6
    return {
        "elapsed": elapsed,
        "ok": answered - int(bad_status),
        "bad": int(bad_status) + int(errors),
        "sent": int(sent),
        "distinct": int(distinct),
        "rps": answered / elapsed,
        "p50": float(p50),
        "p99": float(p99),
    }


def count_and_drain(env: dict[str, str], source: str) -> tuple[int, float, int]:
    code = (
        "import time, django; django.setup();"
        "from apps.webhooks.models import WebhookEvent as E;"
        "from apps.webhooks.services import drain;"
        f"stored = E.objects.filter(source={source!r}).count();"
        "t = time.perf_counter(); r = drain(batch_size=500); d = time.perf_counter() - t;"
        "print(stored, d, r.claimed)"
    )
    out = subprocess.run(
        [PY, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    return int(out[0]), float(out[1]), int(out[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--threads", type=int, default=1, help="threads per worker (more than 1: gthread workers)"
    )
    parser.add_argument("--target", choices=["hub", "bare", "both"], default="both")
    parser.add_argument(
        "--client",
        choices=["wrk", "python"],
        default="wrk" if shutil.which("wrk") else "python",
        help="load generator: wrk (apt-get install wrk; the default when installed) or "
        "Python threads, which take CPU from the server on a small machine",
    )
    parser.add_argument("--seconds", type=int, default=20, help="wrk: length of the run")
    args = parser.parse_args()
    if args.client == "wrk":
        fire_with = functools.partial(fire_wrk, seconds=args.seconds)
        warm_with = functools.partial(fire_wrk, seconds=3)
    else:
        fire_with = warm_with = fire

    base = os.environ.get("DATABASE_URL", "sqlite:///var/db.sqlite3")
    db_url = bench_database_url(base)
    env = server_env(db_url)
    targets = ["bare", "hub"] if args.target == "both" else [args.target]
    print(f"database: {db_url.split('@')[-1]}  gunicorn workers: {args.workers} "
          f"x {args.threads} threads  "
          f"clients: {args.concurrency} ({args.client})  "
          f"requests per target: {args.requests:,}")  # fmt: skip
    for target in targets:
        recreate_database(db_url, base)
        subprocess.run(
            [PY, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
        )
        port = free_port()
        server = start_gunicorn(env, port, args.workers, args.threads)
        try:
            warmup = warm_with(port, PATHS[target], 500, args.concurrency, "warmup")
            figures = fire_with(port, PATHS[target], args.requests, args.concurrency, "run")
            # Requests wrk wrote before it stopped may still wait in the listen queue:
            # give the server time to answer them before it is stopped, so that every
            # delivery that reached it is either stored or refused.
            time.sleep(3)
        finally:
            server.terminate()
            server.wait(timeout=30)
        source = "tiktok-shop" if target == "hub" else "bare"
        stored, drain_seconds, drained = count_and_drain(env, source)
        # Python clients send each delivery once: every 200 is one distinct
        # event. wrk also sends duplicates, so what must be stored is the
        # number of distinct deliveries (all answered 200 when "other" is 0).
        expected = sum(f.get("distinct", f["ok"]) for f in (warmup, figures))
        print(
            f"{target:>4}: {figures['rps']:,.0f} req/s  p50 {figures['p50']:.1f} ms  "
            f"p99 {figures['p99']:.1f} ms  answered 200: {figures['ok']:,}  "
            f"other: {figures['bad']:,}  stored: {stored:,} (distinct deliveries "
            f"{expected:,}: {'OK' if stored == expected else 'MISMATCH'})"
        )
        if target == "hub":
            rate = drained / drain_seconds if drain_seconds else 0
            print(
                f"      drain: {drained:,} events in {drain_seconds:.1f} s ({rate:,.0f} events/s)"
            )
    drop_database(db_url, base)


if __name__ == "__main__":
    main()
