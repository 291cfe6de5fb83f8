"""The outcomes report page (aggregates only) and the research export page."""

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from kapstone.accounts.permissions import roles_required
from kapstone.accounts.roles import Role
from kapstone.audit import services as audit
from kapstone.outcomes.access import EXPORT_ROLES, REPORT_ROLES


def _report_from(request):
    # deferred: heavy libraries (pandas, SciPy, statsmodels) under the report, loaded by the first report a worker
    # builds rather than at start-up.
    from kapstone.outcomes import selectors, suppression
    from kapstone.outcomes.forms import ReportFilterForm
    from kapstone.outcomes.report import build_report

    # Every filter is optional, so an empty query string is a valid form: the whole practice. A researcher's
    # report and filters are suppressed below the practice's minimum cell size (suppression.py).
    min_cell = selectors.minimum_cell_size() if request.user.role == Role.RESEARCHER else 0
    form = ReportFilterForm(request.GET, min_cell=min_cell)
    if not form.is_valid():
        return form, None
    report = build_report(form.filters(), facilitator_label=form.facilitator_label())
    if min_cell:
        report = suppression.for_researcher(report, min_cell)
    audit.record(action=audit.Action.READ, object_type="outcomes_report", detail={"filters": report.filters})
    return form, report


def _page(request, form, report):
    status = 400 if report is None else 200
    context = {"form": form, "report": report, "can_export": request.user.role in EXPORT_ROLES}
    return render(request, "outcomes/report_page.html", context, status=status)


@roles_required(*REPORT_ROLES)
def report_page(request):
    return _page(request, *_report_from(request))


@roles_required(*REPORT_ROLES)
def report_pdf(request):
    form, report = _report_from(request)
    if report is None:
        return _page(request, form, report)
    from kapstone.outcomes import render as documents  # deferred: heavy library (WeasyPrint, pandas)

    response = HttpResponse(documents.report_pdf(report), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="outcomes-{timezone.localdate():%Y%m%d}.pdf"'
    return response


@roles_required(*EXPORT_ROLES)
@require_http_methods(["GET", "POST"])
def research_export(request):
    if request.method == "POST":
        from kapstone.outcomes.services import research_export_zip  # deferred: heavy library (pandas)

        content, _ = research_export_zip(actor_label=request.user.get_username())
        response = HttpResponse(content, content_type="application/zip")
        response["Content-Disposition"] = (
            f'attachment; filename="kapstone-research-export-{timezone.localdate():%Y%m%d}.zip"'
        )
        return response
    return render(request, "outcomes/research_export.html")
