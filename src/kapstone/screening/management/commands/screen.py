"""`kapstone screen INTAKE.json`: screen one intake record for KAP and print the result as JSON.

Reads `-` as standard input. A missing file, bad JSON, an intake that breaks the schema or a bad
--set override ends with status 2 and a message naming the problem; the screening decision itself
never changes the exit status (a not_eligible result is a successful screening).
"""

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from kapstone.screening.engine import (
    IntakeValidationError,
    SettingsOverrideError,
    screen,
)

BAD_INPUT = 2


class Command(BaseCommand):
    help = "Screens an intake record (JSON file, or - for stdin) for KAP eligibility and safety."
    # Screening reads no database, so it runs before migrations and without the system checks.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        parser.add_argument("intake", help="path to the intake JSON file, or - to read standard input")
        parser.add_argument(
            "--set",
            dest="overrides",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help='override a practice setting for this run; VALUE is JSON (170, true, "needs_review")',
        )

    def handle(self, *args, **options):
        intake = _read_intake(options["intake"])
        overrides = _parse_overrides(options["overrides"])
        try:
            result = screen(intake, settings_overrides=overrides)
        except IntakeValidationError as error:
            details = "\n".join(f"  - {message}" for message in error.messages)
            raise CommandError(f"the intake is not valid:\n{details}", returncode=BAD_INPUT) from None
        except SettingsOverrideError as error:
            raise CommandError(str(error), returncode=BAD_INPUT) from None
        self.stdout.write(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))


def _read_intake(path: str):
    source = "standard input" if path == "-" else path
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
    except FileNotFoundError:
        raise CommandError(f"no such file: {path}", returncode=BAD_INPUT) from None
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"cannot read {source}: {error}", returncode=BAD_INPUT) from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise CommandError(f"{source} is nested too deeply to be an intake", returncode=BAD_INPUT) from None
    except ValueError as error:
        raise CommandError(f"{source} is not valid JSON: {error}", returncode=BAD_INPUT) from None


def _reject_constant(name: str):
    # Python's json accepts NaN and Infinity, which are not JSON.
    raise ValueError(f"{name} is not allowed in JSON")


def _parse_overrides(pairs: list[str]) -> dict:
    overrides = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name.strip():
            raise CommandError(f"--set needs NAME=VALUE, not {pair!r}", returncode=BAD_INPUT)
        try:
            value = json.loads(raw, parse_constant=_reject_constant)
        except ValueError:
            # A bare word such as needs_review is taken as text.
            value = raw
        overrides[name.strip()] = value
    return overrides
