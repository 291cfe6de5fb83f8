"""`make bench-load`: pages under real load, each against the /healthz floor measured in the same run.

For each practice size it builds the synthetic practice (scripts/bench.py's builder) in a throwaway PostgreSQL
database, starts the production server (gunicorn with production settings and kapstone.gunicorn_config, 2
workers, persistent connections), and drives each page with locust (headless, as a library) at 8
concurrent connections for a few seconds: every staff page a prescriber opens, the dosing room of the fullest
dosing session, and the main portal pages. It prints requests/s, p50 and p99, queries per request and the share
of the floor's requests/s, then how each figure grows with the practice's size.

    .venv/bin/python scripts/bench_load.py --patients 1000,10000 [--seconds 4] [--users 8] [--threads N]

The database is created by this script and marked as synthetic (a comment on the database); the script refuses
to use or drop a database of that name without the mark, and drops its database and stops its server however
the run ends (unless --keep, which leaves the marked database for --reuse).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import itertools
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager, suppress
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MARK_PREFIX = "kapstone bench_load: synthetic practice"
# The salt in the mark derives the run's keys, so a kept database is read with the keys that wrote it.
MARK = MARK_PREFIX + " of {patients} patients, safe to drop; salt {salt}"
PRESCRIBER, PORTAL_PATIENT = "dr.okafor", "patient1"
# Only pages are driven: files (exports, calendar feeds, PDFs) are timed by `make bench`, not under load.
DRIVEN_TYPES = ("text/html",)


class Refused(Exception):
    """The run would touch a database it did not make; nothing was changed."""


def out(line: str = "") -> None:
    print(line, flush=True)


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} CPUs"


# --- the throwaway database ----------------------------------------------------------------------------------


def _admin(server: str):
    import psycopg  # deferred: only the orchestrating process talks to the server

    return psycopg.connect(f"{server}/postgres", autocommit=True)


def database_mark(server: str, name: str) -> str | None:
    """The database's comment, '' when it has none, or None when there is no such database."""
    with _admin(server) as connection:
        row = connection.execute(
            "SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
    return None if row is None else row[0]


def refuse_unmarked(server: str, name: str) -> str | None:
    mark = database_mark(server, name)
    if mark is not None and not mark.startswith(MARK_PREFIX):
        raise Refused(
            f"Database {name!r} exists and is not marked as this benchmark's synthetic practice: refusing to use "
            "or drop it. Name another with --database."
        )
    return mark


def create_database(server: str, name: str, mark: str) -> None:
    from psycopg import sql

    refuse_unmarked(server, name)
    with _admin(server) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        connection.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(name), sql.Literal(mark)))


def drop_database(server: str, name: str) -> None:
    from psycopg import sql

    if refuse_unmarked(server, name) is None:
        return
    with _admin(server) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# --- the environment every process of one run shares ----------------------------------------------------------


def run_environment(database_url: str, var_dir: str, salt: str) -> dict[str, str]:
    """Production settings with throwaway keys. The builder and the preparing process run in demo mode (seeding
    is demo-only) with the same keys, so the server can read the sessions and notes they wrote."""

    def key(purpose: str) -> bytes:
        return hashlib.sha256(f"{salt}:{purpose}".encode()).digest()

    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("KAPSTONE_", "DATABASE_", "DJANGO_"))
    }
    environment.update(
        {
            "DATABASE_URL": database_url,
            "DJANGO_SETTINGS_MODULE": "kapstone.settings",
            "SECRET_KEY": key("secret").hex(),
            "KAPSTONE_RESEARCH_ID_KEY": key("research").hex(),
            "KAPSTONE_NOTES_KEY": base64.urlsafe_b64encode(key("notes")).decode(),
            "KAPSTONE_VAR_DIR": var_dir,
            "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            "KAPSTONE_WEBAUTHN_RP_ID": "localhost",
            "KAPSTONE_WEBAUTHN_RP_NAME": "Load test",
            "KAPSTONE_SITE_URL": "http://127.0.0.1:8000",
            # Behind a TLS proxy, as in production: the load tool says https through X-Forwarded-Proto.
            "BEHIND_PROXY": "1",
            "LOG_LEVEL": "ERROR",
        }
    )
    return environment


def demo(environment: dict[str, str]) -> dict[str, str]:
    return environment | {"KAPSTONE_DEMO": "1"}


def build(environment: dict[str, str], patients: int) -> None:
    started = time.perf_counter()
    out(f"Building a synthetic practice of {patients:,} patients on PostgreSQL …")
    subprocess.run(  # noqa: S603 - this interpreter, this repository's builder
        [sys.executable, "-c", "import bench; bench.build_practice()"],
        cwd=ROOT / "scripts",
        env=demo(environment) | {"BENCH_PATIENTS": str(patients)},
        check=True,
        stdout=subprocess.DEVNULL,
    )
    out(f"  built in {time.perf_counter() - started:.0f} s")


def analyze(server: str, name: str) -> None:
    """Planner statistics, as a database in service has them: right after a bulk build the planner would
    otherwise guess a few rows where there are thousands and pick plans no practice would see."""
    import psycopg

    with psycopg.connect(f"{server}/{name}", autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")


def prepare(environment: dict[str, str], sessions: int) -> dict:
    """Sign-ins (`sessions` for each role) and the pages to drive, with each page's queries per request, from a
    Django process."""
    result = subprocess.run(  # noqa: S603
        [sys.executable, __file__, "--prepare"],
        env=demo(environment) | {"BENCH_SESSIONS": str(sessions)},
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- the preparing process (Django, demo mode, same database) --------------------------------------------------


def _signed_in_client(username: str):
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = get_user_model().objects.get(username=username)
    client = Client()
    client.force_login(user)
    device = TOTPDevice.objects.filter(user=user).first()
    if device is not None:
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        # A long idle limit is the server's own setting; the session only has to outlive the run.
        session.set_expiry(6 * 3600)
        session.save()
    return client


def _staff_urls(patient_id: int) -> list[tuple[str, str]]:
    """Every staff page by URL name: each without parameters, and each that takes only a patient."""
    from django.urls import URLPattern, URLResolver, get_resolver, reverse

    def names(patterns, namespace=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from names(pattern.url_patterns, pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern) and pattern.name:
                yield f"{namespace}:{pattern.name}" if namespace else pattern.name, set(pattern.pattern.converters)

    urls = []
    for name, parameters in names(get_resolver().url_patterns):
        if name.startswith(("portal:", "accounts:")) or name in {"root", "healthz"}:
            continue
        if not parameters:
            urls.append((name, reverse(name)))
        elif parameters == {"patient_id"}:
            urls.append((name, reverse(name, kwargs={"patient_id": patient_id})))
    return urls


def _counted(client, url: str) -> tuple[int, str, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # the first request fills the per-process caches a served worker already holds
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    return response.status_code, response.get("Content-Type", ""), len(captured)


def prepare_in_django() -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.db.models import Count
    from django.urls import reverse

    from kapstone.measures.models import Assessment
    from kapstone.patients.models import Patient
    from kapstone.program.models import Group, GroupSession

    staff, patient_client = _signed_in_client(PRESCRIBER), _signed_in_client(PORTAL_PATIENT)
    on_team = Patient.objects.filter(care_team_memberships__staff__username=PRESCRIBER).order_by("pk")
    patient_id = on_team.values_list("pk", flat=True)[on_team.count() // 2]
    pages, skipped = [], []

    def consider(label: str, url: str, client, who: str) -> None:
        status, content_type, queries = _counted(client, url)
        if status == 200 and content_type.startswith(DRIVEN_TYPES):
            pages.append({"label": label, "url": url, "who": who, "queries": queries})
        else:
            skipped.append(label)

    for name, url in _staff_urls(patient_id):
        consider(name, url, staff, "staff")
    sessions = (
        GroupSession.objects.filter(kind="dosing")
        .annotate(records=Count("dose_records"))
        .order_by("-records", "-starts_at")
        .values_list("pk", "records")[:20]
    )
    for session_id, records in sessions:
        status, _, _ = _counted(staff, f"/dosing/session/{session_id}/")
        if status == 200:
            consider(f"dosing room ({records} patients)", f"/dosing/session/{session_id}/", staff, "staff")
            break
    # A group page with its roster and the enrol pickers, which once listed every patient the reader may see.
    group_id = (
        Group.objects.filter(facilitators__username=PRESCRIBER, status__in=[Group.Status.FORMING, Group.Status.ACTIVE])
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )
    if group_id is not None:
        consider("group page", reverse("program:group", args=[group_id]), staff, "staff")
    portal_patient = Patient.objects.get(user__username=PORTAL_PATIENT)
    consider("portal home", "/portal/", patient_client, "patient")
    due = (
        Assessment.objects.filter(patient=portal_patient, status__in=["due", "in_progress"], source="patient")
        .order_by("pk")
        .first()
    )
    if due is not None:
        consider("portal questionnaire form", f"/portal/questionnaires/{due.pk}/", patient_client, "patient")
    for label, url in [
        ("portal history (charts)", "/portal/history/"),
        ("portal journal", "/integration/journal/"),
        ("portal timeline", "/integration/my-timeline/"),
    ]:
        consider(label, url, patient_client, "patient")
    cookie = settings.SESSION_COOKIE_NAME
    # One sign-in per connection, as in a clinic: connections sharing a session would queue on its row, which
    # is saved on every request.
    sessions = int(os.environ["BENCH_SESSIONS"])
    staff_clients = [staff, *(_signed_in_client(PRESCRIBER) for _ in range(sessions - 1))]
    patient_clients = [patient_client, *(_signed_in_client(PORTAL_PATIENT) for _ in range(sessions - 1))]
    print(
        json.dumps(
            {
                "cookies": {
                    "staff": [client.cookies[cookie].value for client in staff_clients],
                    "patient": [client.cookies[cookie].value for client in patient_clients],
                },
                "cookie_name": cookie,
                "pages": pages,
                "skipped": skipped,
            }
        )
    )


# --- the server -------------------------------------------------------------------------------------------------


def start_server(environment: dict[str, str], port: int, workers: int, threads: int | None = None) -> subprocess.Popen:
    """gunicorn as production runs it (kapstone.gunicorn_config, with `workers` and, when given, `threads`), in its
    own process group (so stopping it, or a kill -9 of the group, reaches its workers too); returns once /healthz
    answers. Static files must already be collected."""
    server = subprocess.Popen(  # noqa: S603
        [
            str(BIN / "gunicorn"),
            "--config",
            "python:kapstone.gunicorn_config",
            "kapstone.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            *(["--threads", str(threads)] if threads is not None else []),
            "--log-level",
            "warning",
        ],
        env=environment,
        start_new_session=True,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", server)
    except BaseException:
        stop_server(server)
        raise
    return server


def stop_server(server: subprocess.Popen) -> None:
    with suppress(ProcessLookupError):  # the whole group has gone already (a kill -9 of it)
        os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def collect_static(environment: dict[str, str]) -> None:
    subprocess.run(  # noqa: S603
        [str(BIN / "kapstone"), "collectstatic", "--noinput", "-v", "0"], env=environment, check=True
    )


@contextmanager
def production_server(environment: dict[str, str], port: int, workers: int, threads: int | None):
    collect_static(environment)
    server = start_server(environment, port, workers, threads)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_server(server)


def free_port() -> int:
    # Another server on a fixed port would answer /healthz in our server's place.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(url: str, server: subprocess.Popen | None) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server is not None and server.poll() is not None:
            raise RuntimeError(f"gunicorn stopped at start-up (exit {server.returncode})")
        try:
            request = urllib.request.Request(url, headers={"X-Forwarded-Proto": "https"})  # noqa: S310 - local
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise RuntimeError("gunicorn did not answer /healthz within 120 s")


# --- the load -----------------------------------------------------------------------------------------------------


def drive(base: str, page: dict, headers: list[dict[str, str]], *, users: int, seconds: float) -> dict:
    """One page at `users` concurrent connections for `seconds` (after a short warm-up); each connection sends
    its own entry of `headers`."""
    # deferred: locust patches the standard library with gevent on import, which only this driver wants.
    import gevent
    from locust import FastHttpUser, constant, task
    from locust.env import Environment

    connection_numbers = itertools.count()

    class PageUser(FastHttpUser):
        host = base
        wait_time = constant(0)

        def on_start(self):
            self.headers = headers[next(connection_numbers) % len(headers)]

        @task
        def get(self):
            # The session is this connection's sign-in in `headers`: a cookie the server set (sessions are saved
            # on every request) would go out as a second Cookie header, which the server cannot read.
            self.client.cookiejar.clear()
            with self.client.get(
                page["url"], headers=self.headers, name=page["label"], catch_response=True, allow_redirects=False
            ) as response:
                if response.status_code != 200:
                    response.failure(f"HTTP {response.status_code}")

    # A page's first view may do once-only work a clinic does not wait for on each view (the outcomes report is
    # built on the first view of each state of its data, as `scripts/bench.py` times): one view first, unmeasured,
    # so requests queued behind that work do not count as the page's time.
    first_view = urllib.request.Request(base + page["url"], headers=headers[0])  # noqa: S310 - base is our server
    with suppress(urllib.error.URLError), urllib.request.urlopen(first_view, timeout=600) as response:  # noqa: S310
        response.read()

    environment = Environment(user_classes=[PageUser])
    runner = environment.create_local_runner()
    runner.start(users, spawn_rate=users * 10)
    gevent.sleep(min(1.0, seconds / 4))
    environment.stats.reset_all()
    started = time.perf_counter()
    gevent.sleep(seconds)
    total = environment.stats.total
    elapsed = time.perf_counter() - started
    figures = {
        "rps": total.num_requests / elapsed,
        "p50": total.get_response_time_percentile(0.5) or 0,
        "p99": total.get_response_time_percentile(0.99) or 0,
        "failures": total.num_failures,
        "requests": total.num_requests,
        "errors": sorted({str(error.error) for error in environment.stats.errors.values()}),
    }
    runner.quit()
    # Requests the load tool gave up on are still queued at the server: the next page starts once they are done.
    wait_until_up(f"{base}/healthz", None)
    return figures


def measure_size(args, patients: int) -> dict:
    name = f"{args.database}_{patients}"
    database_url = f"{args.server}/{name}"
    with tempfile.TemporaryDirectory(prefix="kapstone-bench-load-") as var_dir:
        found = refuse_unmarked(args.server, name) or ""
        reuse = args.reuse and found.startswith(MARK.format(patients=patients, salt=""))
        salt = found.rsplit(" ", 1)[-1] if reuse else secrets.token_hex(16)
        environment = run_environment(database_url, var_dir, salt)
        try:
            if reuse:
                out(f"Reusing the marked synthetic practice of {patients:,} patients in {name!r}")
                # Migrations added since it was built, so the pages find the tables they read.
                subprocess.run(  # noqa: S603
                    [str(BIN / "kapstone"), "migrate", "--noinput", "-v", "0"], env=demo(environment), check=True
                )
            else:
                create_database(args.server, name, MARK.format(patients=patients, salt=salt))
                build(environment, patients)
                analyze(args.server, name)
            prepared = prepare(environment, args.users)
            with production_server(environment, args.port or free_port(), args.workers, args.threads) as base:
                return run_pages(args, base, prepared, patients)
        finally:
            if not args.keep:
                drop_database(args.server, name)


def run_pages(args, base: str, prepared: dict, patients: int) -> dict:
    cookie = prepared["cookie_name"]
    proxy = {"X-Forwarded-Proto": "https"}
    headers = {
        who: [proxy | {"Cookie": f"{cookie}={value}"} for value in values]
        for who, values in prepared["cookies"].items()
    } | {"anyone": [proxy]}
    out(f"  {load_average()}")
    floor = drive(
        base, {"label": "/healthz", "url": "/healthz"}, headers["anyone"], users=args.users, seconds=args.seconds
    )
    results = {"/healthz (floor)": floor | {"queries": 0}}
    out()
    threads = f"{args.threads} threads each" if args.threads is not None else "the production threads"
    out(
        f"{patients:,} patients: gunicorn {args.workers} workers ({threads}), {args.users} connections, "
        f"{args.seconds:g} s a page"
    )
    out(f"  {'page':<44} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'queries':>7} {'share':>6}")
    row(results["/healthz (floor)"], "/healthz (floor)", floor["rps"])
    only = [part.strip() for part in args.only.split(",") if part.strip()]
    for page in prepared["pages"]:
        if only and not any(part in page["label"] for part in only):
            continue
        figures = drive(base, page, headers[page["who"]], users=args.users, seconds=args.seconds)
        results[page["label"]] = figures | {"queries": page["queries"]}
        row(results[page["label"]], page["label"], floor["rps"])
    if prepared["skipped"]:
        out(
            "  not driven (a file, a form's POST target, or not a prescriber's page): " + ", ".join(prepared["skipped"])
        )
    out(f"  {load_average()}")
    return {"floor": floor["rps"], "pages": results}


def row(figures: dict, label: str, floor: float) -> None:
    share = figures["rps"] / floor * 100 if floor else 0
    failed = f"  {figures['failures']} failed: {'; '.join(figures['errors'])}" if figures["failures"] else ""
    out(
        f"  {label:<44} {figures['rps']:>7.1f} {figures['p50']:>7.0f} {figures['p99']:>7.0f} "
        f"{figures['queries']:>7} {share:>5.0f}%{failed}"
    )


def growth(sizes: list[int], runs: list[dict]) -> None:
    out()
    out("How each figure grows with the practice (first size → last size)")
    out(f"  {'page':<44} {'share %':>15} {'p99 ms':>15} {'queries':>11}")
    for label in runs[0]["pages"]:
        if not all(label in run["pages"] for run in runs):
            continue
        figures = [run["pages"][label] for run in runs]
        shares = " → ".join(f"{f['rps'] / run['floor'] * 100:.0f}" for f, run in zip(figures, runs, strict=True))
        p99s = " → ".join(f"{f['p99']:.0f}" for f in figures)
        queries = " → ".join(str(f["queries"]) for f in figures)
        out(f"  {label:<44} {shares:>15} {p99s:>15} {queries:>11}")
    out(f"  sizes: {' → '.join(f'{size:,}' for size in sizes)} patients")


def main() -> int:
    if sys.argv[1:] == ["--prepare"]:
        prepare_in_django()
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", default="10000", help="comma-separated practice sizes (default 10000)")
    parser.add_argument("--seconds", type=float, default=4.0, help="seconds of load on each page (default 4)")
    parser.add_argument("--users", type=int, default=8, help="concurrent connections (default 8)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument(
        "--threads", type=int, default=None, help="threads per worker (default: the production configuration's)"
    )
    parser.add_argument("--port", type=int, default=0, help="the server's port (default: a free one)")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server URL")
    parser.add_argument(
        "--database", default="kapstone_bench_load", help="the throwaway databases' name, before _<patients>"
    )
    parser.add_argument("--only", default="", help="comma-separated parts of page names: drive only those pages")
    parser.add_argument("--keep", action="store_true", help="leave the marked database for --reuse")
    parser.add_argument("--reuse", action="store_true", help="use a marked database of the same size if present")
    args = parser.parse_args()
    try:
        sizes = [int(part) for part in args.patients.split(",") if part.strip()]
    except ValueError:
        parser.error(f"--patients takes whole numbers separated by commas, not {args.patients!r}")
    if not sizes or any(not 1 <= size <= 200_000 for size in sizes):
        parser.error("--patients takes sizes between 1 and 200,000")
    # A stop from outside (Ctrl-C, make's SIGTERM) still runs the clean-up below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    out(f"Before the run: {load_average()}")
    try:
        runs = [measure_size(args, size) for size in sizes]
    except Refused as refusal:
        out(f"Refused: {refusal}")
        return 2
    if len(runs) > 1:
        growth(sizes, runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
