"""`make bench`: builds a large synthetic practice and prints page times, query counts and each app's figures.

Apps add figures by providing `kapstone.<app>.bench.run(*, out)`; they are called after the page figures.
Set BENCH_PATIENTS to change the size (default 10,000).

    python scripts/bench.py --sizes 1000,2000,10000 [--reuse]

prints only the outcomes report's and the research export's figures, for a practice of each size, and how they grow.
Each size has its own database beside the configured one: var/bench-N.sqlite3, or on PostgreSQL the configured
database's name with _N appended (created when missing; an existing one is used only with --reuse, and only when it
holds a practice of that size, never rebuilt or dropped).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from importlib import import_module
from importlib.util import find_spec
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH_DB = ROOT / "var" / "bench.sqlite3"
os.environ.setdefault("KAPSTONE_DEMO", "1")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{BENCH_DB}")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kapstone.settings")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
# The synthetic practice's alerts page its prescribers: in demo mode their emails were printed among the figures.
os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
# The rated AUT data the creativity figures score sit beside the repository unless said otherwise.
os.environ.setdefault("KAPSTONE_AUT_DATA_DIR", str(ROOT.parent / "shared" / "datasets" / "aut"))

import django  # noqa: E402

django.setup()

from django.apps import apps  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django_otp import DEVICE_ID_SESSION_KEY  # noqa: E402
from django_otp.plugins.otp_totp.models import TOTPDevice  # noqa: E402

PATIENTS = int(os.environ.get("BENCH_PATIENTS", "10000"))
REPEATS = 15


def out(line: str = "") -> None:
    print(line, flush=True)


def build_practice() -> None:
    if os.environ["DATABASE_URL"].startswith("sqlite") and BENCH_DB.exists():
        BENCH_DB.unlink()
    out(f"Building a synthetic practice of {PATIENTS:,} patients …")
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    call_command("seed_demo", patients=PATIENTS, quiet_logins=True)
    out(f"  built in {time.perf_counter() - started:.1f} s")


def signed_in(username: str) -> Client:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username=username)
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = TOTPDevice.objects.get(user=user).persistent_id
    session.save()
    return client


def measure(client: Client, url: str) -> tuple[float, int]:
    timings, queries = [], 0
    for _ in range(REPEATS):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url)
            timings.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.status_code)
        queries = len(captured)
    return statistics.median(timings) * 1000, queries


def page_figures() -> None:
    from kapstone.patients.models import Patient

    patient = Patient.objects.filter(care_team_memberships__staff__username="dr.okafor").order_by("id")[PATIENTS // 2]
    pages = [
        ("staff home", "/home/"),
        ("patient list, page 1", "/patients/"),
        ("patient list, searched", "/patients/?q=ab"),
        ("patient list, page 40", "/patients/?page=40"),
        ("patient page", f"/patients/{patient.pk}/"),
        ("patient's questionnaires", f"/measures/patient/{patient.pk}/"),
        ("screening list", "/screening/"),
        ("alert queue", "/measures/alerts/"),
        ("groups", "/program/"),
        ("integration adherence", "/integration/adherence/"),
    ]
    out()
    out(f"Page figures (median of {REPEATS} requests, in-process server time)")
    out(f"  {'login':<14} {'page':<28} {'median ms':>10} {'queries':>8}")
    for username in ("admin.price", "dr.okafor"):
        client = signed_in(username)
        for label, url in pages:
            milliseconds, queries = measure(client, url)
            out(f"  {username:<14} {label:<28} {milliseconds:>10.1f} {queries:>8}")


def app_figures() -> None:
    for app in apps.get_app_configs():
        module_name = f"{app.name}.bench"
        if app.name.startswith("kapstone.") and find_spec(module_name):
            out()
            import_module(module_name).run(out=out)


def resident_mb() -> float:
    with open("/proc/self/status") as status:
        kilobytes = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return kilobytes / 1024


def staff_page_urls() -> list[str]:
    """Every page a staff member can open: each URL without parameters, and each that takes only a patient."""
    from django.urls import URLPattern, URLResolver, get_resolver, reverse

    from kapstone.patients.models import Patient

    patient_id = Patient.objects.filter(care_team_memberships__staff__username="dr.okafor").values_list(
        "pk", flat=True
    )[0]

    def names(patterns, namespace=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from names(pattern.url_patterns, pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern) and pattern.name:
                yield f"{namespace}:{pattern.name}" if namespace else pattern.name, set(pattern.pattern.converters)

    urls = []
    for name, parameters in names(get_resolver().url_patterns):
        if not parameters:
            urls.append(reverse(name))
        elif parameters == {"patient_id"}:
            urls.append(reverse(name, kwargs={"patient_id": patient_id}))
    return urls


def worker_memory() -> None:
    """Run in a fresh process: what a web worker holds once started, then after every staff page once."""
    from django.urls import get_resolver

    import kapstone.wsgi  # noqa: F401 - what gunicorn loads in each worker

    get_resolver().url_patterns  # noqa: B018 - the URLconf, and with it every view module, as the first request would
    started = resident_mb()
    for username in ("admin.price", "dr.okafor"):
        client = signed_in(username)
        for url in staff_page_urls():
            client.get(url)
    print(json.dumps({"started": started, "served": resident_mb()}))


def memory_figures() -> None:
    # This same script in a fresh process, so the figures are a worker's own.
    result = subprocess.run(  # noqa: S603
        [sys.executable, __file__, "--worker-memory"], capture_output=True, text=True, check=True
    )
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    out()
    out("Web worker memory (resident set, a fresh process)")
    out(f"  started (settings, URLconf and every view module loaded)  {figures['started']:>7.0f} MB")
    out(f"  after serving every staff page once                       {figures['served']:>7.0f} MB")


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} CPUs"


def sized_database_url(patients: int) -> str:
    url = os.environ["DATABASE_URL"]
    if url.startswith("sqlite"):
        return f"sqlite:///{ROOT / 'var' / f'bench-{patients}.sqlite3'}"
    return f"{url.rstrip('/')}_{patients}"


def ensure_sized_database(url: str, patients: int, *, reuse: bool) -> bool:
    """Whether the practice must be built: True for a new database; False to reuse one of this size (--reuse).
    Refuses a database that exists otherwise."""
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.exists():
            return True
    else:
        import psycopg  # deferred: only PostgreSQL runs need the driver here
        from psycopg import sql

        server, _, name = url.rpartition("/")
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                return True
    if not reuse:
        raise SystemExit(f"{url} exists: pass --reuse to use the practice it holds, or remove it to build a new one.")
    return False


def outcomes_only(*, build: bool) -> None:
    """In the child process of --sizes: the practice (unless reused) and the outcomes figures, as a JSON line."""
    from kapstone.outcomes.bench import figures
    from kapstone.patients.models import Patient

    if build:
        build_practice()
    else:
        call_command("migrate", verbosity=0)
        held = Patient.objects.count()
        if held != PATIENTS:
            raise SystemExit(f"--reuse: the database holds {held:,} patients, not {PATIENTS:,}.")
    print(json.dumps(figures(out=out)))


def sizes_figures(sizes: list[int], *, reuse: bool) -> None:
    engine = "SQLite" if os.environ["DATABASE_URL"].startswith("sqlite") else "PostgreSQL"
    results = {}
    for patients in sizes:
        url = sized_database_url(patients)
        build = ensure_sized_database(url, patients, reuse=reuse)
        out(f"{patients:,} patients ({engine}, {url.rsplit('/', 1)[-1]})")
        child = subprocess.run(  # noqa: S603 - this interpreter, this script
            [sys.executable, __file__, "--outcomes-only", "--build" if build else "--reuse"],
            env=os.environ | {"DATABASE_URL": url, "BENCH_PATIENTS": str(patients)},
            capture_output=True,
            text=True,
            check=True,
        )
        lines = child.stdout.strip().splitlines()
        for line in lines[:-1]:
            out(line)
        results[patients] = json.loads(lines[-1])
    out()
    out(f"Outcomes figures by practice size ({engine}; seconds, the stored read in ms; CPU: this process's own)")
    out(f"  {'patients':>9} {'report':>8} {'CPU':>6} {'again':>7} {'stored read':>12} {'export':>8} {'CPU':>6}")
    for patients, figures in results.items():
        out(
            f"  {patients:>9,} {figures['report_s']:>7.2f}s {figures['report_cpu_s']:>5.2f}s "
            f"{figures['report_again_s']:>6.2f}s {figures['stored_ms']:>10.1f}ms {figures['export_s']:>7.2f}s "
            f"{figures['export_cpu_s']:>5.2f}s"
        )
    smallest, largest = min(results), max(results)
    if largest > smallest:
        growth = {name: results[largest][name] / results[smallest][name] for name in results[smallest]}
        out(
            f"  {smallest:,} to {largest:,} patients (x{largest / smallest:.0f}): report x{growth['report_s']:.1f} "
            f"(CPU x{growth['report_cpu_s']:.1f}), stored read x{growth['stored_ms']:.1f}, export "
            f"x{growth['export_s']:.1f} (CPU x{growth['export_cpu_s']:.1f})"
        )
    out(f"  ({load_average()})")


def main() -> int:
    if sys.argv[1:] == ["--worker-memory"]:
        worker_memory()
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", help="comma-separated practice sizes: the outcomes figures at each")
    parser.add_argument("--reuse", action="store_true", help="with --sizes: use a practice of the size if present")
    parser.add_argument("--outcomes-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--build", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.outcomes_only:
        outcomes_only(build=args.build)
        return 0
    if args.sizes:
        sizes_figures([int(size) for size in args.sizes.split(",")], reuse=args.reuse)
        return 0
    build_practice()
    memory_figures()
    page_figures()
    app_figures()
    return 0


if __name__ == "__main__":
    sys.exit(main())
