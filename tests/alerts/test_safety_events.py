"""Safety events the other apps announce land on the one queue and the staff home, once each."""

from django.urls import reverse

from kapstone.alerts.models import EscalationStep
from kapstone.measures.models import CriticalAlert
from kapstone.practice.signals import safety_event
from kapstone.screening import services as screening_services
from tests.screening.helpers import sign_consent


def announce(**overrides):
    event = {
        "kind": "vitals_stop",
        "level": "urgent",
        "patient_id": None,
        "summary": "Blood pressure 190/112 before dosing.",
        "object_type": "vitals",
        "object_id": 7,
    } | overrides
    safety_event.send(sender=None, **event)


def test_an_urgent_event_opens_an_alert_that_pages(cast, paging, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        announce(patient_id=cast.alice.pk)
    alert = CriticalAlert.objects.get()
    assert (alert.kind, alert.priority, alert.patient) == ("vitals_stop", CriticalAlert.Priority.URGENT, cast.alice)
    assert EscalationStep.objects.filter(alert=alert, step=0).exists()


def test_the_same_event_announced_twice_is_one_alert_and_another_of_its_kind_joins_it(cast):
    announce(patient_id=cast.alice.pk)
    announce(patient_id=cast.alice.pk)
    announce(patient_id=cast.alice.pk, object_id=8, summary="Heart rate 128.")
    alert = CriticalAlert.objects.get()
    assert [o.reason for o in alert.occurrences.all()] == ["Blood pressure 190/112 before dosing.", "Heart rate 128."]
    announce(patient_id=cast.alice.pk, kind="adverse_event_serious", object_type="adverse_event", object_id=1)
    assert CriticalAlert.objects.count() == 2


def test_a_practice_event_reaches_the_roles_that_keep_the_ledger_and_the_home_page(cast, client_for):
    announce(kind="ledger_discrepancy", level="review", summary="The count of lot K-1 is off by -50 mg.")
    queue = reverse("measures:alerts")
    assert "off by -50 mg" in client_for(cast.nurse).get(queue).content.decode()
    assert "off by -50 mg" not in client_for(cast.therapist).get(queue).content.decode()
    home = client_for(cast.bob).get(reverse("home:home")).content.decode()
    assert "off by -50 mg" in home and "The practice" in home


def test_a_consent_withdrawn_in_the_portal_is_put_on_the_queue_for_review(cast, django_capture_on_commit_callbacks):
    signature = sign_consent(cast)
    with django_capture_on_commit_callbacks(execute=True):
        screening_services.consent_withdraw(actor=cast.alice_user, signature=signature)
    alert = CriticalAlert.objects.get()
    assert (alert.kind, alert.priority, alert.patient) == (
        "consent_withdrawn",
        CriticalAlert.Priority.REVIEW,
        cast.alice,
    )
    assert not alert.pages


def test_the_queue_sorts_by_level_then_age_and_filters_by_level_kind_and_staff(cast, client_for):
    announce(patient_id=cast.alice.pk, kind="consent_withdrawn", level="review", object_id=1, summary="first, review")
    announce(patient_id=cast.alice.pk, kind="vitals_stop", object_id=2, summary="second, urgent")
    announce(patient_id=cast.dana.pk, kind="vitals_stop", object_id=3, summary="dana urgent")
    client = client_for(cast.admin)
    page = client.get(reverse("measures:alerts")).content.decode()
    assert page.index("second, urgent") < page.index("dana urgent") < page.index("first, review")
    review_only = client.get(reverse("measures:alerts"), {"level": "1"}).content.decode()
    assert "first, review" in review_only and "urgent" not in review_only.split("<tbody>")[1]
    by_kind = client.get(reverse("measures:alerts"), {"kind": "vitals_stop"}).content.decode()
    assert "first, review" not in by_kind and "dana urgent" in by_kind
    by_staff = client.get(reverse("measures:alerts"), {"staff": str(cast.charlie.pk)}).content.decode()
    assert "dana urgent" in by_staff and "second, urgent" not in by_staff
    nonsense = client.get(reverse("measures:alerts"), {"level": "9", "kind": "<x>", "staff": "abc"})
    assert nonsense.status_code == 200 and "first, review" in nonsense.content.decode()
