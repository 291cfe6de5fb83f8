"""How gunicorn serves Kapstone in production: `gunicorn -c python:kapstone.gunicorn_config kapstone.wsgi:application`.

Threaded workers (gthread): a page spends a good part of its time waiting on PostgreSQL (above all on the commit
that makes its audit records durable), and a sync worker sits idle through every wait. With a few threads each
worker builds another page meanwhile (measured with scripts/bench_load.py, issue 19).

Everything a worker caches for the whole process is read-only data loaded once (instruments, rules, catalogues);
request state lives in context variables (the audit actor, the reads held for the response), which each thread
has its own of, and Django gives each thread its own database connection (so a web instance holds
workers x threads connections to PostgreSQL).

Command-line options still win over these, e.g. `--workers 2` in the benchmark.
"""

import os

# Not derived from the CPU count: inside a container that is the host's, and each thread may hold a connection.
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
worker_class = "gthread"
threads = int(os.environ.get("KAPSTONE_WEB_THREADS", "4"))
