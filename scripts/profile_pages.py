"""CPU time and queries per request of staff and portal pages (by default the dosing room and the controlled-substance log), in process.

Run against a practice built by scripts/bench.py (or bench_load.py --keep), with the settings that built it:

    DATABASE_URL=postgres://... KAPSTONE_DEMO=1 .venv/bin/python scripts/profile_pages.py [--requests 60] [--profile]
        [--only "dosing room,screening:intake,home:home"]

It signs in the prescriber as bench_load does, finds the dosing room of the fullest dosing session and the staff pages
bench_load drives (by URL name, for the patient in the middle of the prescriber's list), and the portal pages it drives
as its patient ("portal home", "portal questionnaire form", "portal journal", ...), keeps those whose name holds
one of --only's parts, and prints each page's CPU milliseconds per request (time.process_time, which other jobs on the
machine disturb less than the wall clock), its wall-clock milliseconds (the difference is mostly the wait on the
database) and queries per request; --profile adds cProfile's top functions, timed by CPU as well. To compare two
versions of the code, run each in turn, several rounds, and compare the rounds.
"""

import argparse
import cProfile
import io
import os
import pstats
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kapstone.settings")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")

import django  # noqa: E402

django.setup()

import bench_load  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count  # noqa: E402

from kapstone.measures.models import Assessment  # noqa: E402
from kapstone.patients.models import Patient  # noqa: E402
from kapstone.program.models import GroupSession  # noqa: E402

# The first requests fill the per-process caches a served worker already holds.
WARM_UP = 5


def counted(executed: list[str]):
    """A database wrapper that notes each statement the request runs."""

    def wrapper(execute, sql, params, many, context):
        executed.append(sql)
        return execute(sql, params, many, context)

    return wrapper


def room_url(client) -> str:
    sessions = (
        GroupSession.objects.filter(kind=GroupSession.Kind.DOSING)
        .annotate(records=Count("dose_records"))
        .order_by("-records", "-starts_at")
        .values_list("pk", flat=True)[:20]
    )
    for session_id in sessions:
        if client.get(f"/dosing/session/{session_id}/").status_code == 200:
            return f"/dosing/session/{session_id}/"
    raise SystemExit("No dosing session of the prescriber's patients: build the practice first.")


def portal_urls() -> list[tuple[str, str]]:
    """The portal pages bench_load drives, as its patient sees them."""
    patient = Patient.objects.get(user__username=bench_load.PORTAL_PATIENT)
    due = (
        Assessment.objects.filter(patient=patient, status__in=["due", "in_progress"], source="patient")
        .order_by("pk")
        .first()
    )
    return [
        ("portal home", "/portal/"),
        *([("portal questionnaire form", f"/portal/questionnaires/{due.pk}/")] if due is not None else []),
        ("portal history (charts)", "/portal/history/"),
        ("portal journal", "/integration/journal/"),
        ("portal timeline", "/integration/my-timeline/"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--profile", action="store_true", help="also print cProfile's top functions by CPU time")
    parser.add_argument(
        "--only", default="dosing room,dosing:ledger", help="comma-separated parts of page names (default: %(default)s)"
    )
    arguments = parser.parse_args()
    client = bench_load._signed_in_client(bench_load.PRESCRIBER)
    patient_client = bench_load._signed_in_client(bench_load.PORTAL_PATIENT)
    wanted = [part.strip() for part in arguments.only.split(",") if part.strip()]
    on_team = Patient.objects.filter(care_team_memberships__staff__username=bench_load.PRESCRIBER).order_by("pk")
    patient_id = on_team.values_list("pk", flat=True)[on_team.count() // 2]
    candidates = [
        ("dosing room", room_url(client), client),
        *((label, url, client) for label, url in bench_load._staff_urls(patient_id)),
        *((label, url, patient_client) for label, url in portal_urls()),
    ]
    pages = [(label, url, reader) for label, url, reader in candidates if any(part in label for part in wanted)]
    if not pages:
        raise SystemExit(f"No page's name holds any of {wanted}.")
    for label, url, reader in pages:
        response = reader.get(url)
        if response.status_code != 200 or not response.get("Content-Type", "").startswith(bench_load.DRIVEN_TYPES):
            print(f"{label:<32} {url:<40} not a page ({response.status_code}, {response.get('Content-Type')})")
            continue
        for _ in range(WARM_UP):
            reader.get(url)
        executed: list[str] = []
        with connection.execute_wrapper(counted(executed)):
            reader.get(url)
        started, started_wall = time.process_time(), time.perf_counter()
        for _ in range(arguments.requests):
            reader.get(url)
        cpu_ms = (time.process_time() - started) / arguments.requests * 1000
        wall_ms = (time.perf_counter() - started_wall) / arguments.requests * 1000
        # The wall clock less this process's CPU is mostly the wait on the database, whose work is not this process's.
        print(
            f"{label:<32} {url:<40} {cpu_ms:7.2f} ms CPU {wall_ms:7.2f} ms wall {len(executed):4} queries", flush=True
        )
        if arguments.profile:
            profile = cProfile.Profile(time.process_time)
            for _ in range(arguments.requests):
                profile.runcall(reader.get, url)
            report = io.StringIO()
            pstats.Stats(profile, stream=report).sort_stats("cumulative").print_stats(r"kapstone", 40)
            print(report.getvalue())


if __name__ == "__main__":
    main()
