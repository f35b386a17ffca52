"""gunicorn settings for the web process (``gunicorn -c config/gunicorn.py config.wsgi``).

Sync workers by default: on the 2-vCPU benchmark VM they ingest webhooks
faster than threaded ones (bench/bench_webhooks.py: 556 against 399-504
requests/s), the GIL leaving little to overlap. A sync worker is held by a
slow or idle client, so run it behind a buffering proxy (any load balancer
or nginx), or set ``GUNICORN_WORKER_CLASS=gthread`` with ``GUNICORN_THREADS``
where there is none. Each worker (or thread) keeps its own persistent
database connection.
"""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
# More than 1 makes gunicorn use gthread workers whatever worker_class says.
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
backlog = 2048
# Answer providers within their timeouts or not at all: TikTok retries after 3 s.
timeout = 30
# "-" is standard output; set it empty to turn access logging off.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
