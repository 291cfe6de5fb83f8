"""Command-line parts of the outcomes app, shared by `kapstone report outcomes` and `kapstone export research`.

Bad input raises CommandError with returncode 2 and a message that says what to type instead.
"""

from __future__ import annotations

import datetime
import getpass
import os
import socket
import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from kapstone.accounts.fields import staff_label
from kapstone.audit import context
from kapstone.measures.dates import EARLIEST_RESULT_DATE
from kapstone.outcomes import selectors, snapshots
from kapstone.outcomes.access import EXPORT_ROLES
from kapstone.outcomes.services import research_export_write

USAGE_ERROR = 2


def _date(value: str, flag: str) -> datetime.date:
    try:
        day = datetime.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{flag} takes a date as YYYY-MM-DD, not {value!r}.", returncode=USAGE_ERROR) from None
    if day < EARLIEST_RESULT_DATE:
        raise CommandError(f"{flag} cannot be before {EARLIEST_RESULT_DATE}, not {value!r}.", returncode=USAGE_ERROR)
    return day


def add_filter_arguments(parser) -> None:
    parser.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD", help="courses starting on or after")
    parser.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD", help="courses starting on or before")
    parser.add_argument("--template", default="", help="course template id")
    parser.add_argument("--facilitator", default="", help="username of a facilitator")
    parser.add_argument("--indication", default="", help="indication group, e.g. depression, ptsd")
    parser.add_argument("--site", default="", help="courses with a dosing session at this site")
    parser.add_argument(
        "--setting", dest="dosing_setting", default="", help="courses dosed in this setting: office or supervised_home"
    )


def filters_from(options: dict) -> tuple[selectors.ReportFilters, str]:
    """The filters the flags ask for, each checked against what exists; also the facilitator's display name."""
    date_from = _date(options["date_from"], "--from") if options.get("date_from") else None
    date_to = _date(options["date_to"], "--to") if options.get("date_to") else None
    if date_from and date_to and date_from > date_to:
        raise CommandError(f"--from {date_from} is after --to {date_to}.", returncode=USAGE_ERROR)
    # The report's input fingerprint, read once for the choices the flags are checked against.
    digest, _ = snapshots.fingerprint()
    template = options.get("template") or ""
    if template:
        known = selectors.template_choices(digest=digest)
        if template not in known:
            raise CommandError(
                f"Unknown course template {template!r}. Templates in use: {', '.join(known) or 'none'}.",
                returncode=USAGE_ERROR,
            )
    facilitator_id, facilitator_label = None, ""
    if options.get("facilitator"):
        person = get_user_model().objects.filter(username=options["facilitator"]).first()
        if person is None:
            raise CommandError(f"There is no user {options['facilitator']!r}.", returncode=USAGE_ERROR)
        facilitator_id, facilitator_label = person.pk, staff_label(person)
    indication = options.get("indication") or ""
    if indication and indication not in selectors.indication_labels():
        names = ", ".join(sorted(selectors.indication_labels()))
        raise CommandError(f"Unknown indication {indication!r}. Choose one of: {names}.", returncode=USAGE_ERROR)
    site = options.get("site") or ""
    if site and site not in (sites := selectors.site_choices(digest=digest)):
        names = ", ".join(sites) or "none recorded"
        raise CommandError(f"No dosing session was held at {site!r}. Sites recorded: {names}.", returncode=USAGE_ERROR)
    setting = options.get("dosing_setting") or ""
    if setting and setting not in selectors.DOSING_SETTINGS:
        names = ", ".join(selectors.DOSING_SETTINGS)
        raise CommandError(f"Unknown setting {setting!r}. Choose one of: {names}.", returncode=USAGE_ERROR)
    filters = selectors.ReportFilters(
        date_from=date_from,
        date_to=date_to,
        template_id=template,
        facilitator_id=facilitator_id,
        indication=indication,
        site=site,
        dosing_setting=setting,
    )
    return filters, facilitator_label


def add_research_subparser(subparsers) -> None:
    research = subparsers.add_parser("research", help="the de-identified research export (CSV, Parquet, dictionary)")
    research.add_argument("--out", required=True, help="folder to write into (created if missing)")
    research.add_argument(
        "--by", metavar="USERNAME", default="", help="the researcher or admin the export is for (audited as them)"
    )
    research.add_argument(
        "--profile",
        choices=["full", "registry"],
        default="full",
        help="full: every table; registry: what a multi-site ketamine registry pools (dose, route, frequency, "
        "adverse events, outcomes, long-term safety)",
    )


def _exporter(username: str):
    """The active researcher or admin account `--by` names; anything else is refused before any work."""
    person = get_user_model().objects.filter(username=username).first()
    if person is None or not person.is_active:
        raise CommandError(f"--by: there is no active account {username!r}.", returncode=USAGE_ERROR)
    if person.role not in EXPORT_ROLES:
        raise CommandError(
            f"--by: {username!r} is not a researcher or an admin, so may not write the research export.",
            returncode=USAGE_ERROR,
        )
    return person


def _run_from() -> dict[str, str]:
    """The operating-system user and host the command runs as, for the audit row."""
    try:
        os_user = getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (e.g. an arbitrary container uid)
        os_user = f"uid {os.getuid()}"
    return {"os_user": os_user, "host": socket.gethostname()}


def handle_research(options: dict, stdout, stderr) -> None:
    out_dir = Path(options["out"])
    if out_dir.exists() and not out_dir.is_dir():
        raise CommandError(f"--out {str(out_dir)!r} is a file; give a folder.", returncode=USAGE_ERROR)
    if not out_dir.parent.is_dir():
        raise CommandError(f"The folder {str(out_dir.parent)!r} does not exist.", returncode=USAGE_ERROR)
    if options.get("by"):
        person = _exporter(options["by"])
        actor = context.ActorContext(actor_id=person.pk, actor_label=person.get_username())
    else:
        actor = context.for_command("export research")
    token = context.set_current(actor)
    started = time.perf_counter()
    try:
        result = research_export_write(
            actor_label=actor.actor_label,
            out_dir=out_dir,
            progress=lambda message: stderr.write(f"  {message}"),
            run_from=_run_from(),
            profile=options.get("profile") or "full",
        )
    except OSError as error:
        raise CommandError(f"Could not write to {str(out_dir)!r}: {error.strerror}.", returncode=USAGE_ERROR) from None
    finally:
        context.reset(token)
    stdout.write(
        f"Wrote the research export for {result.patients} patients ({len(result.files)} files) to {out_dir} "
        f"in {time.perf_counter() - started:.1f} s."
    )
