from tests.matrix import Route

# The report is aggregates only: admins, prescribers, therapists and researchers (charlie too: no care-team
# scope applies to an aggregate). The export is rows, however de-identified: admins and researchers only.
REPORT_READERS = {"admin", "bob", "therapist", "charlie", "researcher"}

ROUTES = {
    "outcomes:report": Route(allow=REPORT_READERS),
    "outcomes:report_pdf": Route(allow=REPORT_READERS),
    "outcomes:research_export": Route(allow={"admin", "researcher"}),
}
