"""The staff home's lists drawn in Python (home_tags) say what the template's loops said (issue 19)."""

import datetime
from pathlib import Path

import pytest
from django.template import engines

from kapstone.home.templatetags.home_tags import due_questionnaire_items, my_patient_items, open_alert_items
from kapstone.measures.models import CriticalAlert
from kapstone.measures.scoring import list_instruments
from tests.conftest import make_patient
from tests.measures.factories import due_assessment

OLD_ROWS = (Path(__file__).parent / "home_rows_template.html").read_text()


def _alert(patient, priority: int, reason: str, kind: str = "suicide_risk") -> CriticalAlert:
    return CriticalAlert.objects.create(
        kind=kind,
        priority=priority,
        patient=patient,
        rule="risk",
        reason=reason,
        # 23:30 in UTC, another hour (and in some zones another day) in the practice's time zone.
        raised_at=datetime.datetime(2026, 3, 4, 23, 30, tzinfo=datetime.UTC),
        join_key=reason,
    )


@pytest.mark.django_db
@pytest.mark.parametrize("clinician", [True, False])
def test_the_items_drawn_in_python_are_the_templates_items(cast, clinician):
    awkward = make_patient('<b>"Zed"</b> & Co', "O'Hara <script>", team=[cast.bob])
    plain = make_patient("Plain", "Person", team=[cast.bob])
    alerts = [
        _alert(awkward, CriticalAlert.Priority.URGENT, "Item 9 & <more>"),
        _alert(None, CriticalAlert.Priority.REVIEW, "The count is off", kind="controlled_substance_count"),
        _alert(plain, CriticalAlert.Priority.HIGH, 'Said "<no>"', kind="some_new_kind"),
    ]
    by_hand = next(i.id for i in list_instruments() if not i.patient_can_answer)
    by_portal = next(i.id for i in list_instruments() if i.patient_can_answer)
    due = [
        due_assessment(awkward, by_hand, occasion="pre_dosing_2", due_in_days=-3),
        due_assessment(plain, by_portal, due_in_days=-1),
        due_assessment(awkward, "removed-instrument", occasion="ad_hoc", due_in_days=-2),
    ]
    due[0].due_at = datetime.datetime(2026, 3, 4, 23, 30, tzinfo=datetime.UTC)
    context = {
        "critical_alerts": alerts,
        "due_assessments": due,
        "my_patients": [awkward, plain],
        "request": type("Request", (), {"user": type("User", (), {"is_clinician": clinician})()})(),
    }
    old = engines["django"].from_string(OLD_ROWS).render(context)
    lines = old.splitlines()
    assert lines[2].strip() == open_alert_items(alerts)
    assert lines[4] == f"  <ul>{due_questionnaire_items(due, fill_in=clinician)}</ul>"
    assert lines[5] == f"  <ul>{my_patient_items([awkward, plain])}</ul>"
    assert "The practice" in old and "&lt;script&gt;" in old and ("fill in" in old) == clinician
