"""The database failing in the middle of a write (an OperationalError from a service's second step, as a failover
or a dropped connection raises it): the person sees the calm error page, none of the write is kept, and the audit
trail still verifies."""

from django.core.management import call_command
from django.db import OperationalError
from django.urls import reverse

from kapstone.audit.models import Action, AuditEvent
from kapstone.patients import services as patient_services
from tests.conftest import signed_in_client

EDIT = {
    "given_name": "Alicia",
    "family_name": "Abernathy",
    "date_of_birth": "1980-05-17",
    "sex": "female",
    "gender_identity": "woman",
    "pronouns": "she/her",
    "email": "alicia.new@mail.example",
    "phone": "555-0199",
    "emergency_contact_name": "Sam Abernathy",
    "emergency_contact_relationship": "partner",
    "emergency_contact_phone": "555-0198",
}


def test_a_write_the_database_drops_midway_shows_the_error_page_and_keeps_nothing(cast, monkeypatch, capsys):
    def connection_lost(**kwargs):
        raise OperationalError("server closed the connection unexpectedly (db.internal:5432)")

    # The record is saved, then its portal login's email follows it: the second step fails.
    monkeypatch.setattr(patient_services.accounts, "login_email_follow", connection_lost)
    before = (cast.alice.given_name, cast.alice.email, cast.alice_user.email)
    last_entry = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    client = signed_in_client(cast.bob)
    client.raise_request_exception = False

    response = client.post(reverse("patients:edit", args=[cast.alice.pk]), EDIT)

    page = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong" in page and "Nothing was saved" in page
    assert "OperationalError" not in page and "db.internal" not in page and "Traceback" not in page
    cast.alice.refresh_from_db()
    cast.alice_user.refresh_from_db()
    assert (cast.alice.given_name, cast.alice.email, cast.alice_user.email) == before
    assert not AuditEvent.objects.filter(object_type="patient", action="update", patient_id=cast.alice.pk).exists()
    # Only the reads of the page, recorded by the middleware, may follow; no write's entry.
    assert not AuditEvent.objects.filter(pk__gt=last_entry).exclude(action=Action.READ).exists()
    call_command("verify_audit")
    assert "Traceback" not in capsys.readouterr().err
