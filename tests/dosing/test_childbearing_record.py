"""The patient page's childbearing-potential form, which the dosing room's pregnancy check reads."""

from django.urls import reverse

from kapstone.audit.models import AuditEvent
from kapstone.patients.models import Patient


def post(client, cast, potential):
    return client.post(reverse("patients:childbearing", args=[cast.alice.pk]), {"potential": potential})


def test_a_clinician_on_the_team_records_it_with_who_and_when_and_it_is_audited(cast, client_for):
    assert post(client_for(cast.nurse), cast, "no").status_code == 302
    alice = Patient.objects.get(pk=cast.alice.pk)
    assert (alice.childbearing_potential, alice.childbearing_recorded_by) == ("no", cast.nurse)
    assert alice.childbearing_recorded_at is not None
    event = AuditEvent.objects.get(object_type="childbearing_potential")
    assert event.detail_data == {"from": "", "to": "no"}
    page = client_for(cast.bob).get(reverse("patients:detail", args=[cast.alice.pk])).content.decode()
    assert "No childbearing potential" in page and "recorded by" in page


def test_the_admin_and_outsiders_cannot_record_it(cast, client_for):
    assert post(client_for(cast.admin), cast, "no").status_code == 403
    assert post(client_for(cast.charlie), cast, "no").status_code == 404
    assert Patient.objects.get(pk=cast.alice.pk).childbearing_potential == ""


def test_an_unknown_answer_changes_nothing(cast, client_for):
    response = post(client_for(cast.bob), cast, "maybe")
    assert response.status_code == 302
    assert Patient.objects.get(pk=cast.alice.pk).childbearing_potential == ""
    assert not AuditEvent.objects.filter(object_type="childbearing_potential").exists()
