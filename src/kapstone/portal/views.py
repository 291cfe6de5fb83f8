from django.shortcuts import render

from kapstone.accounts.permissions import roles_required
from kapstone.accounts.roles import Role
from kapstone.audit import services as audit
from kapstone.patients.selectors import patient_for_portal_user


@roles_required(Role.PATIENT)
def home(request):
    patient = patient_for_portal_user(request.user)
    audit.record(action=audit.Action.READ, patient=patient, object_type="portal_home", object_id=patient.pk)
    return render(request, "portal/home.html", {"patient": patient})
