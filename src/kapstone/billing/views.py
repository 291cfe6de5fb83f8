"""Billing pages. Admins (billing staff) see and record money; clinicians on the care team read the account;
patients read their own account in the portal. Writes go through services; refusals are shown on the page."""

import csv
import io

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from kapstone import formrender
from kapstone.accounts.permissions import roles_required
from kapstone.accounts.roles import CLINICAL_ROLES, Role
from kapstone.billing import codes, selectors, services
from kapstone.billing.documents import pdf_response
from kapstone.billing.forms import (
    AdjustmentForm,
    ChargeForm,
    FeeForm,
    PaymentForm,
    PeriodForm,
    RefundForm,
    SelfPayForm,
    StaffProfileForm,
)
from kapstone.program.course_templates import TemplateError
from kapstone.spreadsheet import csv_cell

ACCOUNT_READERS = (Role.ADMIN, *CLINICAL_ROLES)


def _account_page(request, view, status=200, **forms):
    context = {"view": view, "is_billing_staff": request.user.role == Role.ADMIN}
    if context["is_billing_staff"]:
        page_forms = {
            "charge_form": ChargeForm(
                visit_choices=view.visit_choices, clinicians=selectors.care_team_clinicians(view.patient)
            ),
            "payment_form": PaymentForm(visit_choices=view.visit_choices),
            "adjustment_form": AdjustmentForm(initial={"on_date": timezone.localdate()}),
            "self_pay_form": SelfPayForm(initial={"self_pay": view.account.self_pay}),
            "period_form": PeriodForm(),
            **forms,
        }
    else:
        page_forms = {"period_form": PeriodForm()}
    # Each form's fields as the page's include drew them, an unbound form's drawn once for every request that shows
    # the same form (formrender.drawn_fields): the include's templates were drawn on every view (issue 19).
    context.update(
        {name.replace("_form", "_fields"): formrender.drawn_fields(form) for name, form in page_forms.items()}
    )
    return render(request, "billing/account.html", context, status=status)


@roles_required(*ACCOUNT_READERS)
def account(request, patient_id):
    return _account_page(request, selectors.staff_account(user=request.user, patient_id=patient_id))


def _done(request, view, text):
    messages.success(request, text)
    return redirect("billing:account", patient_id=view.patient.pk)


@roles_required(Role.ADMIN)
@require_POST
def charge_add(request, patient_id):
    view = selectors.staff_account(user=request.user, patient_id=patient_id)
    form = ChargeForm(
        request.POST, visit_choices=view.visit_choices, clinicians=selectors.care_team_clinicians(view.patient)
    )
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.charge_add(
                actor=request.user,
                patient=view.patient,
                code=data["code"],
                modifiers=data["modifiers"],
                units=data["units"],
                session=selectors.visit_of(view, data["visit"]) if data["visit"] else None,
                on_date=data["on_date"],
                place_of_service=data["place_of_service"],
                rendering_clinician=form.clinicians.get(data["rendering_clinician"]),
            )
        except services.BillingError as refusal:
            form.add_error(None, str(refusal))
        else:
            return _done(request, view, f"Charged {data['code']}.")
    return _account_page(request, view, status=400, charge_form=form)


@roles_required(Role.ADMIN)
@require_POST
def visit_charges(request, patient_id, session_id):
    view = selectors.staff_account(user=request.user, patient_id=patient_id)
    session = selectors.visit_of(view, session_id)
    try:
        entries = services.visit_charges_add(actor=request.user, patient=view.patient, session=session)
    except services.BillingError as refusal:
        messages.error(request, str(refusal))
        return redirect("billing:visit_superbill", patient_id=view.patient.pk, session_id=session.pk)
    messages.success(request, f"Charged {', '.join(e.code for e in entries)}.")
    return redirect("billing:visit_superbill", patient_id=view.patient.pk, session_id=session.pk)


@roles_required(Role.ADMIN)
@require_POST
def payment(request, patient_id):
    view = selectors.staff_account(user=request.user, patient_id=patient_id)
    form = PaymentForm(request.POST, visit_choices=view.visit_choices)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.payment_record(
                actor=request.user,
                patient=view.patient,
                amount=data["amount"],
                method=data["method"],
                reference=data["reference"],
                on_date=data["on_date"],
                session=selectors.visit_of(view, data["visit"]) if data["visit"] else None,
            )
        except services.BillingError as refusal:
            form.add_error(None, str(refusal))
        else:
            return _done(request, view, f"Recorded a payment of ${data['amount']}.")
    return _account_page(request, view, status=400, payment_form=form)


@roles_required(Role.ADMIN)
@require_POST
def adjustment(request, patient_id):
    view = selectors.staff_account(user=request.user, patient_id=patient_id)
    form = AdjustmentForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.adjustment_record(
                actor=request.user,
                patient=view.patient,
                amount=data["amount"],
                reason=data["reason"],
                on_date=data["on_date"],
            )
        except services.BillingError as refusal:
            form.add_error(None, str(refusal))
        else:
            return _done(request, view, f"Took ${data['amount']} off the account.")
    return _account_page(request, view, status=400, adjustment_form=form)


@roles_required(Role.ADMIN)
def refund(request, patient_id, entry_id):
    view = selectors.staff_account(user=request.user, patient_id=patient_id)
    payment_entry = selectors.payment_of(view, entry_id)
    form = RefundForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.refund_record(
                    actor=request.user,
                    payment=payment_entry,
                    amount=data["amount"],
                    reason=data["reason"],
                    method=data["method"],
                    reference=data["reference"],
                )
            except services.BillingError as refusal:
                form.add_error(None, str(refusal))
            else:
                return _done(request, view, f"Recorded a refund of ${data['amount']}.")
        return render(
            request, "billing/refund.html", {"view": view, "payment": payment_entry, "form": form}, status=400
        )
    return render(request, "billing/refund.html", {"view": view, "payment": payment_entry, "form": form})


@roles_required(Role.ADMIN)
@require_POST
def self_pay(request, patient_id):
    view = selectors.staff_account(user=request.user, patient_id=patient_id)
    form = SelfPayForm(request.POST)
    form.is_valid()  # a single checkbox: absent means "no"
    services.self_pay_set(actor=request.user, patient=view.patient, self_pay=form.cleaned_data.get("self_pay", False))
    return _done(request, view, "Saved how the patient pays.")


# --- documents ------------------------------------------------------------------------------------------------


def _filename(kind: str, patient, suffix: str = "") -> str:
    return f"{kind}-{patient.record_number}{suffix}-{timezone.localdate():%Y%m%d}.pdf"


@roles_required(*ACCOUNT_READERS)
def visit_superbill(request, patient_id, session_id):
    view = selectors.staff_account(user=request.user, patient_id=patient_id)
    session = selectors.visit_of(view, session_id)
    bill = selectors.visit_superbill(view, session)
    context = {"view": view, "bill": bill, "session": session, "is_billing_staff": request.user.role == Role.ADMIN}
    return render(request, "billing/superbill.html", context)


@roles_required(*ACCOUNT_READERS)
@never_cache
def visit_superbill_pdf(request, patient_id, session_id):
    view = selectors.staff_account(user=request.user, patient_id=patient_id)
    bill = selectors.visit_superbill(view, selectors.visit_of(view, session_id))
    return pdf_response("billing/superbill_document.html", {"bill": bill}, _filename("superbill", view.patient))


def _period_superbill(request, view):
    form = PeriodForm(request.GET)
    if not form.is_valid():
        return render(request, "billing/period_refused.html", {"form": form, "view": view}, status=400)
    bill = selectors.period_superbill(view, form.cleaned_data["start"], form.cleaned_data["end"])
    return pdf_response("billing/superbill_document.html", {"bill": bill}, _filename("superbill", view.patient))


@roles_required(*ACCOUNT_READERS)
@never_cache
def period_superbill_pdf(request, patient_id):
    return _period_superbill(request, selectors.staff_account(user=request.user, patient_id=patient_id))


@roles_required(*ACCOUNT_READERS)
@never_cache
def statement_pdf(request, patient_id):
    view = selectors.staff_account(user=request.user, patient_id=patient_id)
    context = {"statement": selectors.statement(view)}
    return pdf_response("billing/statement_document.html", context, _filename("statement", view.patient))


def _estimate(request, view):
    try:
        template, starts_on, templates = selectors.estimate_course(view.patient, request.GET.get("template", ""))
    except TemplateError as broken:
        messages.error(request, f"The course templates cannot be read: {broken}")
        return None, {}
    if template is None:
        return None, {"templates": sorted(templates.values(), key=lambda t: t.name)}
    estimate = selectors.good_faith_estimate(patient=view.patient, template=template, starts_on=starts_on)
    return estimate, {"template": template}


@roles_required(*ACCOUNT_READERS)
def estimate(request, patient_id):
    view = selectors.staff_account(user=request.user, patient_id=patient_id)
    gfe, extra = _estimate(request, view) if view.account.self_pay else (None, {})
    return render(request, "billing/estimate.html", {"view": view, "estimate": gfe, **extra})


@roles_required(*ACCOUNT_READERS)
@never_cache
def estimate_pdf(request, patient_id):
    view = selectors.staff_account(user=request.user, patient_id=patient_id)
    if not view.account.self_pay:
        messages.error(request, "A Good Faith Estimate is for patients who pay the practice directly.")
        return redirect("billing:estimate", patient_id=view.patient.pk)
    gfe, _ = _estimate(request, view)
    if gfe is None:
        messages.error(request, "Choose the course to estimate first.")
        return redirect("billing:estimate", patient_id=view.patient.pk)
    return pdf_response(
        "billing/estimate_document.html", {"estimate": gfe}, _filename("good-faith-estimate", view.patient)
    )


# --- the practice's books (billing staff) ---------------------------------------------------------------------


@roles_required(Role.ADMIN)
def fees(request):
    form = FeeForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.fee_set(actor=request.user, code=data["code"], amount=data["amount"], reason=data["reason"])
            except services.BillingError as refusal:
                form.add_error(None, str(refusal))
            else:
                messages.success(request, f"The fee for {data['code']} is now ${data['amount']}.")
                return redirect("billing:fees")
        status = 400
    else:
        status = 200
    context = {"schedule": selectors.fee_schedule(), "form": form, "modifiers": codes.modifiers()}
    return render(request, "billing/fees.html", context, status=status)


@roles_required(Role.ADMIN)
def clinicians(request):
    return render(request, "billing/clinicians.html", {"profiles": selectors.billing_profiles()})


@roles_required(Role.ADMIN)
def clinician(request, user_id):
    user, profile = selectors.billing_profile_of(user_id=user_id)
    form = StaffProfileForm(request.POST or None, instance=profile)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.staff_profile_set(actor=request.user, user=user, **data)
            except services.BillingError as refusal:
                form.add_error(None, str(refusal))
            else:
                messages.success(request, f"Saved the billing details of {user.display_name}.")
                return redirect("billing:clinicians")
        return render(request, "billing/clinician_form.html", {"form": form, "clinician": user}, status=400)
    return render(request, "billing/clinician_form.html", {"form": form, "clinician": user})


@roles_required(Role.ADMIN)
def aging(request):
    rows, totals = selectors.aging()
    context = {"rows": rows, "totals": totals, "buckets": [label for _, _, label in selectors.AGING_BUCKETS]}
    context["period_form"] = PeriodForm()
    return render(request, "billing/aging.html", context)


@roles_required(Role.ADMIN)
@never_cache
def export(request):
    form = PeriodForm(request.GET)
    if not form.is_valid():
        return render(request, "billing/period_refused.html", {"form": form}, status=400)
    rows = selectors.export_rows(start=form.cleaned_data["start"], end=form.cleaned_data["end"])
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=selectors.EXPORT_COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow({key: csv_cell(value) for key, value in row.items()})
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    response["Content-Disposition"] = f'attachment; filename="account-entries-{start:%Y%m%d}-{end:%Y%m%d}.csv"'
    return response


# --- the patient's own account (portal) -----------------------------------------------------------------------


@roles_required(Role.PATIENT)
def my_account(request):
    view = selectors.portal_account(user=request.user)
    return render(request, "billing/my_account.html", {"view": view, "period_form": PeriodForm()})


@roles_required(Role.PATIENT)
@never_cache
def my_statement_pdf(request):
    view = selectors.portal_account(user=request.user)
    context = {"statement": selectors.statement(view)}
    return pdf_response("billing/statement_document.html", context, _filename("statement", view.patient))


@roles_required(Role.PATIENT)
@never_cache
def my_superbill_pdf(request, session_id):
    view = selectors.portal_account(user=request.user)
    bill = selectors.visit_superbill(view, selectors.visit_of(view, session_id))
    return pdf_response("billing/superbill_document.html", {"bill": bill}, _filename("superbill", view.patient))


@roles_required(Role.PATIENT)
@never_cache
def my_period_superbill_pdf(request):
    return _period_superbill(request, selectors.portal_account(user=request.user))
