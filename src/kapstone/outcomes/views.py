"""The outcomes report page (aggregates only) and the research export page."""

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from kapstone.accounts.identity import identity_confirmed
from kapstone.accounts.permissions import roles_required
from kapstone.accounts.roles import Role
from kapstone.outcomes import snapshots
from kapstone.outcomes.access import EXPORT_ROLES, REPORT_ROLES


def _form_from(request, inputs_digest: str = ""):
    # deferred: heavy libraries (pandas under the form's choices) loaded by the first report page a worker serves
    # rather than at start-up.
    from kapstone.outcomes import selectors
    from kapstone.outcomes.forms import ReportFilterForm

    # Every filter is optional, so an empty query string is a valid form: the whole practice. A researcher's
    # report and filters are suppressed below the practice's minimum cell size (suppression.py).
    min_cell = selectors.minimum_cell_size() if request.user.role == Role.RESEARCHER else 0
    return ReportFilterForm(request.GET, min_cell=min_cell, inputs_digest=inputs_digest), min_cell


def _page(request, form, *, snapshot=None, updating_since=None, status=200):
    context = {
        "form": form,
        "snapshot": snapshot,
        "updating_since": updating_since,
        "can_export": request.user.role in EXPORT_ROLES,
    }
    return render(request, "outcomes/report_page.html", context, status=status)


@roles_required(*REPORT_ROLES)
def report_page(request):
    """The stored report when it is current (snapshots.py); otherwise it is built, in this request when tasks run
    eagerly, else by a worker while the page says the report is being updated. Never older figures as current.
    The report's input fingerprint is read once, first, for the form's choices and the stored report alike."""
    inputs = snapshots.fingerprint()
    form, min_cell = _form_from(request, inputs_digest=inputs[0])
    if not form.is_valid():
        return _page(request, form, status=400)
    # deferred: heavy libraries (SciPy, statsmodels under the report a build makes), loaded by the first report page a
    # worker serves rather than at start-up.
    from kapstone.outcomes import services

    filters, label = form.filters(), form.facilitator_label()
    snapshot, updating_since = services.report_snapshot_for_view(
        filters=filters, facilitator_label=label, min_cell=min_cell, inputs=inputs
    )
    return _page(request, form, snapshot=snapshot, updating_since=updating_since)


@roles_required(*REPORT_ROLES)
def report_pdf(request):
    form, min_cell = _form_from(request)
    if not form.is_valid():
        return _page(request, form, status=400)
    # deferred: heavy libraries (WeasyPrint, pandas, SciPy, statsmodels) under the document.
    from kapstone.outcomes import render as documents
    from kapstone.outcomes import services

    report = services.report_for_document(
        filters=form.filters(), facilitator_label=form.facilitator_label(), min_cell=min_cell
    )
    response = HttpResponse(documents.report_pdf(report), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="outcomes-{timezone.localdate():%Y%m%d}.pdf"'
    return response


@roles_required(*EXPORT_ROLES)
@require_http_methods(["GET", "POST"])
@identity_confirmed("take a research export", changes_only=True)
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
