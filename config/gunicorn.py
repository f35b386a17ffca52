"""gunicorn settings for the web process (``gunicorn -c config/gunicorn.py config.wsgi``).

Threaded workers: a request spends much of its time waiting on PostgreSQL
(a webhook delivery is one INSERT and its commit), and a sync worker sits
idle through that wait; a few threads per worker overlap it with the next
request's Python work. Each thread keeps its own persistent connection, so
the database sees ``workers x threads`` connections.
"""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
backlog = 2048
# Answer providers within their timeouts or not at all: TikTok retries after 3 s.
timeout = 30
# "-" is standard output; set it empty to turn access logging off.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
