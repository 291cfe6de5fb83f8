"""`kapstone score <instrument> --answers 1,0,2,...`: scores one questionnaire and prints the result as JSON.

Licensed instruments recorded as totals take `--total N` instead. Any input that cannot be scored exits with
status 2 and a message saying what to fix.
"""

import json
import math

from django.core.management.base import BaseCommand, CommandError

from kapstone.measures.scoring import ScoringError, get_instrument, list_instruments, score, score_total

USAGE_ERROR = 2


def parse_answers(text: str) -> list[int | None]:
    """Turns "1,0,,2" into [1, 0, None, 2]: a blank answer is an unanswered (or skipped) item."""
    if not text.strip():
        raise CommandError("No answers given: pass them in item order, e.g. --answers 1,0,2.", returncode=2)
    answers: list[int | None] = []
    for position, part in enumerate(text.split(","), start=1):
        part = part.strip()
        if not part:
            answers.append(None)
            continue
        try:
            answers.append(int(part))
        except ValueError:
            raise CommandError(f"Answer {position} ({part!r}) is not a whole number.", returncode=2) from None
    return answers


def parse_setting(text: str) -> tuple[str, float]:
    name, separator, value = text.partition("=")
    try:
        number = float(value)
    except ValueError:
        number = None
    if not separator or not name.strip() or number is None:
        raise CommandError(f"--setting takes NAME=NUMBER, not {text!r}.", returncode=2)
    # float() reads "nan" and "inf", which no threshold can be and which JSON cannot print.
    if not math.isfinite(number):
        raise CommandError(f"--setting {name.strip()} must be a finite number, not {value.strip()!r}.", returncode=2)
    return name.strip(), int(number) if number.is_integer() else number


class Command(BaseCommand):
    help = "Score a questionnaire from its answers (or check a staff-entered total) and print JSON."
    # Scoring is pure computation: it needs neither the database nor the system checks.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        parser.add_argument("instrument", nargs="?", help="instrument id, e.g. phq9 (see --list)")
        parser.add_argument("--answers", help="comma-separated answers in item order; blank = skipped item")
        parser.add_argument("--total", type=int, help="the total, for instruments recorded as totals only")
        parser.add_argument(
            "--setting", action="append", default=[], metavar="NAME=NUMBER", help="a practice setting override"
        )
        parser.add_argument("--list", action="store_true", help="list the instruments and exit")

    def handle(self, *args, **options):
        if options["list"]:
            listing = [
                {"id": i.id, "name": i.name, "version": i.version, "entry": i.entry, "items": len(i.items)}
                for i in list_instruments()
            ]
            self.stdout.write(json.dumps(listing, indent=2))
            return
        if not options["instrument"]:
            raise CommandError("Name an instrument, e.g. `kapstone score phq9 --answers ...`.", returncode=2)
        settings = dict(parse_setting(text) for text in options["setting"])
        try:
            instrument = get_instrument(options["instrument"])
            if instrument.entry == "total_only":
                if options["total"] is None or options["answers"] is not None:
                    raise CommandError(
                        f"{instrument.short_name} is recorded as a total entered by staff: pass --total N.",
                        returncode=2,
                    )
                result = score_total(instrument.id, options["total"], settings=settings)
            else:
                if options["answers"] is None or options["total"] is not None:
                    raise CommandError(
                        f"{instrument.short_name} is scored from its {len(instrument.items)} items: pass --answers.",
                        returncode=2,
                    )
                result = score(instrument.id, parse_answers(options["answers"]), settings=settings)
        except ScoringError as error:
            raise CommandError(str(error), returncode=2) from None
        if not result.complete:
            items = ", ".join(str(number) for number in result.missing_items)
            raise CommandError(
                f"Unanswered item(s): {items}. A total counts only when every item is answered.", returncode=2
            )
        self.stdout.write(json.dumps(result.as_dict(), indent=2))
