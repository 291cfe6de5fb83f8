"""`kapstone export <format> ...`: exports from Kapstone. Each format is a subcommand with its own options.

    kapstone export fhir --patient ID --out FILE   a patient's questionnaires as a FHIR R4 Bundle (measures.fhir)
    kapstone export research --out DIR             the de-identified research export (outcomes.cli)

It lives in outcomes, the higher of the two apps it serves, so that measures never imports outcomes. Bad input
exits with status 2 and a message; every export is written to the audit trail.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from pydantic import ValidationError

from kapstone.audit import context
from kapstone.audit import services as audit
from kapstone.measures.fhir import patient_bundle
from kapstone.measures.models import Assessment
from kapstone.outcomes import cli as outcomes_cli
from kapstone.patients.models import RECORD_NUMBER_PATTERN, Patient

USAGE_ERROR = 2


def _patient(identifier: str) -> Patient:
    """A patient by database id or record number (KP-000123)."""
    match = RECORD_NUMBER_PATTERN.match(identifier.strip())
    # isdecimal, not isdigit: "²" is a digit to Python but not a number int() reads.
    if identifier.strip().isdecimal():
        pk = int(identifier)
    elif match:
        pk = int(match.group(1))
    else:
        raise CommandError(
            f"--patient takes a patient id or record number (e.g. 12 or KP-000012), not {identifier!r}.",
            returncode=USAGE_ERROR,
        )
    try:
        return Patient.objects.get(pk=pk)
    except Patient.DoesNotExist:
        raise CommandError(f"There is no patient {identifier!r}.", returncode=USAGE_ERROR) from None


def export_fhir(*, patient_identifier: str, out: str) -> tuple[Patient, int]:
    patient = _patient(patient_identifier)
    path = Path(out)
    if not path.parent.is_dir():
        raise CommandError(f"The folder {str(path.parent)!r} does not exist.", returncode=USAGE_ERROR)
    assessments = Assessment.objects.filter(patient=patient, status=Assessment.Status.COMPLETED).order_by(
        "completed_at", "pk"
    )
    try:
        bundle = patient_bundle(patient, assessments)
    except ValidationError as error:
        # Stored data the FHIR models refuse (e.g. a count beyond a FHIR integer, saved before its bound was
        # enforced): say where, and write nothing, rather than a half-valid file or a traceback.
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}" for problem in error.errors()[:3]
        )
        raise CommandError(
            f"The FHIR Bundle for {patient.record_number} does not validate, so nothing was written. "
            f"{error.error_count()} problem(s): {problems}" + ("; ..." if error.error_count() > 3 else ""),
            returncode=USAGE_ERROR,
        ) from None
    with transaction.atomic():
        audit.record(
            action=audit.Action.EXPORT,
            patient=patient,
            object_type="fhir_bundle",
            object_id=patient.pk,
            detail={"entries": len(bundle.entry or []), "file": path.name},
        )
        try:
            path.write_text(bundle.model_dump_json(indent=2))
        except OSError as error:
            raise CommandError(f"Could not write {out!r}: {error.strerror}.", returncode=USAGE_ERROR) from None
    return patient, len(bundle.entry or [])


class Command(BaseCommand):
    help = "Export data from Kapstone (formats: fhir, research)."

    def add_arguments(self, parser):
        formats = parser.add_subparsers(dest="format", required=True, metavar="FORMAT")
        fhir = formats.add_parser("fhir", help="a patient's questionnaires as a FHIR R4 Bundle (JSON)")
        fhir.add_argument("--patient", required=True, help="patient id or record number, e.g. KP-000012")
        fhir.add_argument("--out", required=True, help="the file to write")
        outcomes_cli.add_research_subparser(formats)

    def handle(self, *args, **options):
        token = context.set_current(context.for_command("export"))
        try:
            if options["format"] == "fhir":
                patient, entries = export_fhir(patient_identifier=options["patient"], out=options["out"])
                self.stdout.write(f"Wrote {entries} resources for {patient.record_number} to {options['out']}.")
            elif options["format"] == "research":
                outcomes_cli.handle_research(options, self.stdout, self.stderr)
        finally:
            context.reset(token)
