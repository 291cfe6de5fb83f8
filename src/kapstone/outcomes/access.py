"""Who may read the outcomes report and who may write the research export. A module of its own, without the
report's libraries, so the URLconf can name these roles without loading pandas, SciPy or statsmodels."""

from kapstone.accounts.roles import Role

# The report holds aggregates only, so the people who run or study the practice may read it; nurses work
# from individual records and have no use for it.
REPORT_ROLES = (Role.ADMIN, Role.PRESCRIBER, Role.THERAPIST, Role.RESEARCHER)
# The export holds rows (de-identified), so only the researcher and the admin who answers for it may write one,
# from the download page or, named with --by, from the command line.
EXPORT_ROLES = (Role.ADMIN, Role.RESEARCHER)
