"""How gunicorn serves Kapstone in production: `gunicorn -c python:kapstone.gunicorn_config kapstone.wsgi:application`.

Sync workers by default, three of them. KAPSTONE_WEB_THREADS above 1 makes each a threaded worker (gthread), so a
worker builds another page while one waits on PostgreSQL. Measured with scripts/bench_load.py's server at 8
connections on a shared 2-core machine (issue 19), 2 threaded workers of 4 threads did not serve pages measurably
faster than 2 sync workers (requests/s and p99 moved either way from run to run, and the CPU each page costs was
the same), so the default stays sync; a host whose pages wait longer on the database (a remote one) may gain.

Threads are safe here: everything a worker caches for the whole process is read-only data loaded once
(instruments, rules, catalogues, the creativity model), request state lives in context variables (the audit actor,
the reads held for the response) that each thread has its own of and that each request resets, and Django gives
each thread its own database connection (so a web instance holds up to workers x threads connections).

Command-line options still win over these, e.g. `--workers 2` in the benchmark.
"""

import os

# Not derived from the CPU count: inside a container that is the host's, and each worker holds connections.
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
# gunicorn runs gthread workers when threads is above 1.
threads = int(os.environ.get("KAPSTONE_WEB_THREADS", "1"))
