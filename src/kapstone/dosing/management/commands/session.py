"""`kapstone session readiness --date YYYY-MM-DD [--json]`: for each dosing session on that date (practice time),
each patient as `ready` or `blocked` with every reason known now (kapstone.dosing.selectors.sessions_readiness_on),
and the items the room checks only on the day. Audited as a read of every patient listed. A bad date exits with
status 2 and a message."""

import datetime
import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from kapstone.audit import context
from kapstone.dosing import readiness, selectors

BAD_INPUT = 2


def _date(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise CommandError(
            f"--date must be a day written YYYY-MM-DD (e.g. 2025-06-10), not {text!r}.", returncode=BAD_INPUT
        ) from None


def _session_json(entry: selectors.SessionReadiness) -> dict:
    session = entry.session
    return {
        "session_id": session.pk,
        "starts_at": timezone.localtime(session.starts_at).isoformat(),
        "group": session.group.name,
        "number": session.number,
        "room": session.room.name if session.room else None,
        "facilitators": [person.get_username() for person in session.facilitators.all()],
        "ready": entry.ready_count,
        "blocked": entry.blocked_count,
        "patients": [
            {
                "patient_id": item.patient.pk,
                "record_number": item.patient.record_number,
                "name": item.patient.full_name,
                "status": "ready" if item.ready else "blocked",
                "reasons": item.reasons,
            }
            for item in entry.patients
        ],
    }


class Command(BaseCommand):
    help = "Dosing-session readiness for a day: each patient ready or blocked, with every reason."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="readiness")
        ready = actions.add_parser("readiness", help="each patient of each dosing session on a date, ready or blocked")
        ready.add_argument("--date", required=True, metavar="YYYY-MM-DD", help="the sessions' day, in practice time")
        ready.add_argument("--json", dest="as_json", action="store_true", help="print JSON instead of text")

    def handle(self, *args, action: str, date: str, as_json: bool, **options):
        day = _date(date)
        token = context.set_current(context.for_command("session readiness"))
        try:
            sessions = selectors.sessions_readiness_on(day=day)
        finally:
            context.reset(token)
        on_the_day = readiness.checked_on_the_day()
        if as_json:
            self._print_json(day, sessions, on_the_day)
        else:
            self._print_text(day, sessions, on_the_day)

    def _print_json(self, day, sessions, on_the_day) -> None:
        document = {
            "date": day.isoformat(),
            "sessions": [_session_json(entry) for entry in sessions],
            "checked_on_the_day": on_the_day,
        }
        self.stdout.write(json.dumps(document, indent=2, ensure_ascii=False))

    def _print_text(self, day, sessions, on_the_day) -> None:
        if not sessions:
            self.stdout.write(f"No dosing session on {day:%Y-%m-%d}.")
            return
        for entry in sessions:
            session = entry.session
            room = f", {session.room.name}" if session.room else ""
            self.stdout.write(
                f"{timezone.localtime(session.starts_at):%Y-%m-%d %H:%M} {session.group.name}: dosing session "
                f"{session.number}{room} ({len(entry.patients)} patients, {entry.ready_count} ready, "
                f"{entry.blocked_count} blocked)"
            )
            if not entry.patients:
                self.stdout.write("  nobody enrolled")
            for item in entry.patients:
                status = "ready" if item.ready else "blocked"
                self.stdout.write(f"  {status:<8} {item.patient.record_number} {item.patient.full_name}")
                for reason in item.reasons:
                    self.stdout.write(f"           - {reason}")
        self.stdout.write("Checked on the day, in the room:")
        for item in on_the_day:
            self.stdout.write(f"  - {item}")
