"""The dosing room's patient cards, written out in Python (dosing/room_cards.py), come out exactly as the loop of
dosing/room.html drew them: cards of every state (not checked in, checked in, each readiness banner and notice,
dosed, discharged), for every role that opens the room, and awkward text."""

import datetime
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import timezone
from django.utils.safestring import mark_safe

from kapstone.accounts.roles import Role
from kapstone.dosing import selectors, services
from kapstone.dosing.forms import ROOM_FORMS
from kapstone.dosing.models import DoseRecord
from kapstone.dosing.room_cards import NO_ORDER_YET, room_card
from kapstone.measures import services as measures
from kapstone.program.models import Enrolment
from tests.conftest import make_patient, make_user
from tests.dosing.helpers import NO_RISK_SCREEN, signed
from tests.screening.helpers import ready_for_enrolment

# The room's loop over its cards (dosing/room.html), before they were written out in Python.
CARDS_TEMPLATE = """{% load kapstone_tags %}{% for entry, f in room %}{% with record=entry.record patient=entry.patient %}
<section class="card room-card{% if entry.alert_level == 'stop' %} alert-stop{% elif entry.alert_level == 'review' %} alert-review{% endif %}" id="patient-{{ patient.pk }}" aria-labelledby="h-{{ patient.pk }}">
  <h2 id="h-{{ patient.pk }}">{{ patient.name_with_pronouns }}</h2>
  <p>
  {% if record.discharged_at %}<span class="badge ok">discharged {{ record.discharged_at|time:"H:i" }}</span>
  {% elif record.administered_at %}<span class="badge">dosed {{ record.administered_at|time:"H:i" }}</span>
  {% elif record.checked_in_at %}<span class="badge">checked in</span>{% else %}<span class="badge">not checked in</span>{% endif %}
  {% if entry.alert_level == 'stop' %}<span class="badge danger" role="alert">STOP alert</span>{% elif entry.alert_level == 'review' %}<span class="badge warn">review</span>{% endif %}
  </p>
{% if record.checked_in_at and not record.administered_at %}  <p class="muted">Checklist: {{ record.checklist_in_words }}</p>
{% endif %}  {% with ready=entry.readiness %}
  {% if entry.awaiting_dose and ready.gate_blockers %}
  <div class="alert-banner" aria-labelledby="gate-{{ patient.pk }}">
    <h3 id="gate-{{ patient.pk }}">⚠ Cannot be dosed today: the enrolment gate is closed</h3>
    <ul>{% for reason in ready.gate_blockers %}<li>{{ reason|capfirst }}</li>{% endfor %}</ul>
  </div>
  {% endif %}
  {% if entry.awaiting_dose and ready.at_weekly_limit %}
  <div class="alert-banner" aria-labelledby="week-{{ patient.pk }}">
    <h3 id="week-{{ patient.pk }}">⚠ Cannot be dosed today: weekly limit reached</h3>
    <p>{{ ready.spacing_refusal }}</p>
  </div>
  {% else %}
  <p><strong>Doses in the 7 days before{% if record.administered_at %} this one{% endif %}:</strong> {{ ready.doses_in_week_before }} (at most {{ ready.weekly_limit }} a week)</p>
  {% endif %}
  {% if entry.awaiting_dose and ready.same_day_refusal %}
  <div class="alert-banner" aria-labelledby="same-day-{{ patient.pk }}">
    <h3 id="same-day-{{ patient.pk }}">⚠ Cannot be dosed today: already dosed today</h3>
    <p>{{ ready.same_day_refusal }}</p>
  </div>
  {% endif %}
  {% if entry.awaiting_dose and ready.observation_refusal %}
  <div class="alert-banner" aria-labelledby="observed-{{ patient.pk }}">
    <h3 id="observed-{{ patient.pk }}">⚠ Cannot be dosed now: still under observation after another dose</h3>
    <p>{{ ready.observation_refusal }}</p>
  </div>
  {% endif %}
  {% if entry.awaiting_dose and ready.vitals_refusal %}
  <div class="alert-banner" aria-labelledby="vitals-{{ patient.pk }}">
    <h3 id="vitals-{{ patient.pk }}">⚠ Cannot be dosed now: pre-dose vitals at a stop level</h3>
    <p>{{ ready.vitals_refusal }}</p>
  </div>
  {% elif entry.awaiting_dose and ready.vitals_review %}
  {% if ready.review_acknowledged %}
  <p class="notice"><strong>Pre-dose BP reviewed</strong> by {{ record.ordered_by.get_full_name|default:record.ordered_by.get_username }} with the order: {{ ready.predose_reading.alert_messages|join:"; " }}</p>
  {% else %}
  <div class="alert-banner" aria-labelledby="review-{{ patient.pk }}">
    <h3 id="review-{{ patient.pk }}">⚠ Pre-dose BP to review before the dose</h3>
    <p>{% if record.dose_mg %}{{ ready.review_refusal }}{% else %}{{ ready.vitals_review }}{% endif %}</p>
  </div>
  {% endif %}
  {% endif %}
  {% if entry.awaiting_dose and ready.sedation_refusal %}
  <div class="alert-banner" aria-labelledby="sedation-{{ patient.pk }}">
    <h3 id="sedation-{{ patient.pk }}">⚠ Cannot be dosed now: sedated before the dose</h3>
    <p>{{ ready.sedation_refusal }}</p>
  </div>
  {% endif %}
  {% if entry.awaiting_dose and ready.risk_refusal %}
  <div class="alert-banner" aria-labelledby="risk-{{ patient.pk }}">
    <h3 id="risk-{{ patient.pk }}">⚠ Suicide risk: a prescriber's same-day assessment is needed</h3>
    <p>{{ ready.risk_refusal }}</p>
  </div>
  {% elif ready.risk_decision %}{% with decision=ready.risk_decision %}
  <p class="notice"><strong>Suicide risk assessed</strong> by {{ decision.recorded_by.get_full_name|default:decision.recorded_by.get_username }} at {{ decision.recorded_at|time:"H:i" }}: {{ decision.get_method_display|lower }}, risk level {{ decision.get_risk_level_display|lower }}; {{ decision.get_decision_display|lower }}.</p>
  {% endwith %}{% endif %}
  {% if ready.risk_assessments and not entry.awaiting_dose or ready.risk_assessments and not ready.risk_refusal %}<p class="muted">Same-day suicide screen: {% for a in ready.risk_assessments %}{{ a.recorded_at|time:"H:i" }}, {{ a.get_risk_level_display|lower }}{% if not forloop.last %}; {% endif %}{% endfor %}</p>{% endif %}
  {% if entry.awaiting_dose and ready.safety_review_refusal %}
  <div class="alert-banner" aria-labelledby="safety-review-{{ patient.pk }}">
    <h3 id="safety-review-{{ patient.pk }}">⚠ Safety finding to review before the dose</h3>
    <p>{{ ready.safety_review_refusal }}</p>
  </div>
  {% endif %}
  {% if entry.awaiting_dose and ready.allergy_refusal %}
  <div class="alert-banner" aria-labelledby="allergy-{{ patient.pk }}">
    <h3 id="allergy-{{ patient.pk }}">⚠ Confirmed allergic reaction to the drug</h3>
    <p>{{ ready.allergy_refusal }}</p>
  </div>
  {% endif %}
  {% if entry.awaiting_dose and record.checked_in_at and ready.pregnancy_refusal %}
  <div class="alert-banner" aria-labelledby="pregnancy-{{ patient.pk }}">
    <h3 id="pregnancy-{{ patient.pk }}">⚠ Pregnancy check not passed</h3>
    <p>{{ ready.pregnancy_refusal }}{% if record.pregnancy_test == "n/a" or not record.pregnancy_test %}{% if patient.childbearing_potential != "no" %} <a href="{% url 'patients:detail' patient.pk %}#childbearing">Record {{ patient.full_name }}'s childbearing potential on the patient page</a>.{% endif %}{% endif %}</p>
  </div>
  {% endif %}
  {% if entry.awaiting_dose and ready.medication_refusal %}
  <div class="alert-banner" aria-labelledby="meds-{{ patient.pk }}">
    <h3 id="meds-{{ patient.pk }}">⚠ New medicines to review before the dose</h3>
    <p>{{ ready.medication_refusal }}</p>
  </div>
  {% endif %}
  {% endwith %}
  {% if entry.post_dose %}{% with check=entry.post_dose %}
  <p class="notice"><strong>Vitals {{ check.minutes_after_dose }} min after the dose:</strong> due {{ check.due_at|time:"H:i" }} ·
  {% if check.done %}done at {{ check.reading.taken_at|time:"H:i" }}{% elif check.overdue %}<strong>not taken yet, due now</strong>{% else %}not taken yet{% endif %}{% if not record.discharged_at %}<br><strong>Discharge:</strong> not before {{ check.observed_until|time:"H:i" }} ({{ check.observation_minutes }} min of observation){% endif %}</p>
  {% endwith %}{% endif %}
  {% if record.dose_mg %}<p><strong>Order:</strong> {{ record.get_route_display }} {{ record.dose_mg|floatformat }} mg{% if record.mg_per_kg %} ({{ record.mg_per_kg }} mg/kg){% endif %} by {{ record.ordered_by.last_name }} · <span class="muted">{{ record.ceiling_note }}</span></p>{% endif %}
  {% if record.administered_at %}<p><strong>Given</strong> {{ record.administered_at|time:"H:i" }} by {{ record.administered_by.last_name }}, witness {{ record.witness.last_name }}, lot {{ record.lot.lot_number }}</p>{% endif %}
  <h3>Vitals</h3>
  <table class="vitals"><thead><tr><th scope="col">Time</th><th scope="col">When</th><th scope="col">BP <span class="unit">mmHg</span></th><th scope="col">HR <span class="unit">/min</span></th><th scope="col">SpO₂ <span class="unit">%</span></th><th scope="col">RR <span class="unit">/min</span></th></tr></thead><tbody>
  {% for v in entry.vitals %}<tr class="{% if v.alert_level %}vital-{{ v.alert_level }}{% endif %}"><td>{{ v.taken_at|time:"H:i" }}</td><td>{{ v.get_phase_display }}</td><td>{{ v.systolic }}/{{ v.diastolic }}</td><td>{{ v.heart_rate }}</td><td>{{ v.spo2 }}</td><td>{{ v.respiratory_rate|default_if_none:"—" }}</td></tr>
  {% if v.alert_messages %}<tr class="vital-{{ v.alert_level }}"><td colspan="6" role="alert">⚠ {{ v.alert_messages|join:"; " }}</td></tr>{% endif %}
  {% empty %}<tr><td colspan="6" class="muted">No vitals recorded yet.</td></tr>{% endfor %}</tbody></table>
  {% if record.sedation_moaas is not None or record.dissociation_cadss is not None %}<p>MOAA/S {{ record.sedation_moaas|default_if_none:"—" }} · CADSS {{ record.dissociation_cadss|default_if_none:"—" }}{% if record.ratings_at %} <span class="muted">(rated {{ record.ratings_at|time:"H:i" }}{% if record.predose_moaas is not None %}; before the dose MOAA/S {{ record.predose_moaas }}{% endif %})</span>{% endif %}</p>{% endif %}
  {% for ae in record.adverse_events.all %}<p class="badge warn">AE: {{ ae.kind }} ({{ ae.get_severity_display }})</p>{% endfor %}
  {% if record.notes %}<pre class="notes">{{ record.notes }}</pre>{% endif %}
  {% if not record.discharged_at %}
  {% if not record.administered_at %}{{ f.checkin }}{% endif %}
  {{ f.vitals }}
  {% if current_role != Role.ADMIN %}{{ f.risk }}{% endif %}
  {% if current_role == Role.PRESCRIBER and entry.awaiting_dose and entry.readiness.medicines_to_review %}{{ f.medreview }}{% endif %}
  {% if not record.administered_at and current_role == Role.PRESCRIBER %}{{ f.order }}{% endif %}
  {% if not record.administered_at %}{% if current_role == Role.PRESCRIBER or current_role == Role.NURSE %}{% if record.dose_mg is not None %}{{ f.administer }}{% else %}{{ no_order_yet }}{% endif %}{% endif %}{% endif %}
  {% if record.checked_in_at %}{% if current_role != Role.ADMIN %}{{ f.ratings }}{% endif %}
  {{ f.adverse }}
  {% if current_role != Role.ADMIN %}{{ f.discharge }}{% endif %}{% elif current_role != Role.ADMIN %}<p class="muted after-check-in">Check the patient in first; then you can rate sedation and dissociation, record an adverse event and discharge here.</p>{% else %}<p class="muted after-check-in">Check the patient in first; then you can record an adverse event here.</p>{% endif %}
  {% endif %}
  {{ f.note }}
</section>
{% endwith %}
{% empty %}<p class="muted">No patients of yours are enrolled in this group.</p>{% endfor %}"""


class _MarkedForms(dict):
    """A card's forms, each a mark naming its patient and action: which the card shows, and where."""

    def __init__(self, patient_id: int):
        super().__init__(
            {action: mark_safe(f'<form data-mark="p{patient_id}-{action}"></form>') for action in ROOM_FORMS}
        )

    def posted_here(self, action: str) -> bool:
        return False  # the template draws the room as loaded, with no form sent back


def _checked_in(cast, session, patient, **changes):
    record = services.dose_record_open(actor=cast.nurse, session=session, patient=patient)
    services.check_in(
        actor=cast.nurse,
        record=record,
        **{
            "fasting_confirmed": True,
            "escort_arranged": True,
            "pregnancy_test": "negative",
            "pregnancy_test_on": timezone.localdate(),
            "weight_kg": Decimal("70"),
            "medication_changes": "no",
            "intention": "to rest",
            **changes,
        },
    )
    return record


def _vitals(cast, record, phase, systolic, diastolic, **extra):
    services.vitals_record(
        actor=cast.nurse,
        record=record,
        phase=phase,
        systolic=systolic,
        diastolic=diastolic,
        heart_rate=extra.pop("heart_rate", 70),
        spo2=98,
        **extra,
    )


def _patient(cast, session, name: str, **extra):
    patient = make_patient(name, "Room", user=make_user(name.lower(), Role.PATIENT), team=[cast.bob, cast.nurse])
    for field, value in extra.items():
        setattr(patient, field, value)
    patient.save()
    Enrolment.objects.create(group=session.group, patient=patient, status=Enrolment.Status.ENROLLED)
    ready_for_enrolment(cast, patient)
    return patient


@pytest.fixture
def full_room(cast, session, ready_record, stock, earlier_dose, django_capture_on_commit_callbacks):
    """A session holding a card of each state the room shows."""
    # Alice: dosed an hour ago, her post-dose vitals at review level, rated, with an adverse event and notes.
    given = timezone.now() - datetime.timedelta(minutes=60)
    services.dose_administer(
        actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob), administered_at=given
    )
    _vitals(cast, ready_record, "peak", 165, 80, taken_at=given + datetime.timedelta(minutes=41))
    services.ratings_record(actor=cast.nurse, record=ready_record, sedation_moaas=4, dissociation_cadss=3)
    DoseRecord.objects.filter(pk=ready_record.pk).update(predose_moaas=5)
    services.adverse_event_record(
        actor=cast.nurse,
        record=ready_record,
        kind='nausea "mild" <b>',
        severity="mild",
        description="",
        action_taken="",
    )
    services.note_add(actor=cast.nurse, record=ready_record, text='note <with> & "quotes"')
    # Checked in: a review-level pre-dose reading not yet acknowledged, a positive suicide screen, new medicines,
    # a dose 3 days ago...
    review = _patient(cast, session, "Review", pronouns="they/them <&>")
    record = _checked_in(cast, session, review, medication_changes="yes", new_medications="lithium\nsertraline")
    services.risk_assessment_record(actor=cast.nurse, record=record, answers={1: 1, 2: 1, 3: 1, 4: 0, 5: 0, 6: 0})
    _vitals(cast, record, "pre", 150, 95)
    earlier_dose(review, timezone.now() - datetime.timedelta(days=3))
    # ...and an allergic reaction to the drug at an earlier dose, confirmed when acknowledged.
    reaction = measures.alert_raise_for_event(
        kind="adverse_event_hypersensitivity",
        level="urgent",
        patient_id=review.pk,
        summary='Allergic reaction: "hives" <b>',
        object_type="adverse_event",
        object_id=1,
    )
    measures.alert_acknowledge(actor=cast.bob, alert=reaction, note="Urticaria.", finding="confirmed")
    # Checked in: pre-dose vitals at a stop level, no pregnancy test recorded, a
    # prescriber's decision to proceed after a high clinician assessment; at the weekly limit.
    stop = _patient(cast, session, "Stop")
    record = _checked_in(cast, session, stop, pregnancy_test="", pregnancy_test_on=None)
    services.risk_assessment_record(
        actor=cast.bob, record=record, answers={}, clinician_level="high", decision="proceed", note="seen <b>"
    )
    _vitals(cast, record, "pre", 190, 112)
    for days in (2, 4):
        earlier_dose(stop, timezone.now() - datetime.timedelta(days=days))
    # Checked in and ordered, the review-level reading acknowledged with the order; the post-dose check overdue
    # for a dose given 50 minutes ago, not yet due for one given now.
    acknowledged = _patient(cast, session, "Acknowledged")
    record = _checked_in(cast, session, acknowledged)
    services.risk_assessment_record(actor=cast.nurse, record=record, answers=NO_RISK_SCREEN)
    _vitals(cast, record, "pre", 150, 95)
    services.dose_order(
        actor=cast.bob, record=record, route="sublingual", dose_mg=Decimal("150"), predose_bp_reviewed=True
    )
    overdue = _patient(cast, session, "Overdue")
    record = _checked_in(cast, session, overdue)
    services.risk_assessment_record(actor=cast.nurse, record=record, answers=NO_RISK_SCREEN)
    _vitals(cast, record, "pre", 120, 80, respiratory_rate=14)
    services.dose_order(actor=cast.bob, record=record, route="sublingual", dose_mg=Decimal("150"))
    services.dose_administer(
        actor=cast.nurse,
        record=record,
        balance=stock,
        witness=signed(cast.bob),
        administered_at=timezone.now() - datetime.timedelta(minutes=50),
    )
    recent = _patient(cast, session, "Recent")
    record = _checked_in(cast, session, recent)
    services.risk_assessment_record(actor=cast.nurse, record=record, answers=NO_RISK_SCREEN)
    _vitals(cast, record, "pre", 120, 80)
    services.dose_order(actor=cast.bob, record=record, route="sublingual", dose_mg=Decimal("150"))
    services.dose_administer(actor=cast.nurse, record=record, balance=stock, witness=signed(cast.bob))
    # A review-level reading taken after the order: the order must be written again.
    late = _patient(cast, session, "Late")
    record = _checked_in(cast, session, late)
    services.risk_assessment_record(actor=cast.nurse, record=record, answers=NO_RISK_SCREEN)
    _vitals(cast, record, "pre", 120, 80)
    services.dose_order(actor=cast.bob, record=record, route="sublingual", dose_mg=Decimal("150"))
    _vitals(cast, record, "pre", 150, 95)
    # Checked in and rated sedated before the dose...
    drowsy = _patient(cast, session, "Drowsy")
    record = _checked_in(cast, session, drowsy)
    services.ratings_record(actor=cast.nurse, record=record, sedation_moaas=3, dissociation_cadss=0)
    # ... and dosed this morning in a session of another group.
    earlier_dose(drowsy, timezone.now() - datetime.timedelta(hours=4))
    # ... with a urine drug screen positive for a substance not prescribed, not yet reviewed.
    with django_capture_on_commit_callbacks(execute=True):  # the queue hears of it once it is committed
        measures.urine_toxicology_record(
            actor=cast.bob,
            patient=drowsy,
            collected_on=timezone.localdate(),
            result="positive",
            substances_found=["cocaine"],
            prescribed_found=[],
        )
    # Discharged, and the two members not checked in whose gate is closed.
    member = Enrolment.objects.filter(group=session.group, patient__given_name="Member1").get().patient
    DoseRecord.objects.create(
        session=session,
        patient=member,
        route="sublingual",
        dose_mg=Decimal("150"),
        checked_in_at=given,
        administered_at=given,
        discharged_at=timezone.now(),
        ordered_by=cast.bob,
        administered_by=cast.nurse,
        witness=cast.bob,
        discharged_by=cast.nurse,
        lot=stock.lot,
    )
    return session


@pytest.mark.parametrize("viewer", ["bob", "nurse", "therapist", "admin"])
def test_the_cards_come_out_as_the_template_drew_them(cast, full_room, viewer):
    user = getattr(cast, viewer)
    _, room = selectors.session_room(user=user, session_id=full_room.pk)
    # The therapist's care team holds alice and the two members only.
    assert len(room) == (3 if viewer == "therapist" else 10)
    forms = {entry.patient.pk: _MarkedForms(entry.patient.pk) for entry in room}
    by_template = Template(CARDS_TEMPLATE).render(
        Context(
            {
                "room": [(entry, forms[entry.patient.pk]) for entry in room],
                "current_role": user.role,
                "Role": Role,
                "no_order_yet": mark_safe(NO_ORDER_YET),
            }
        )
    )
    by_python = "".join(room_card(entry, forms[entry.patient.pk], role=user.role) for entry in room)
    assert by_python == by_template
    if viewer == "therapist":
        return
    # A patient dosed is offered no check-in, order or dose form; one ordered and not yet dosed is.
    dosed = cast.alice.pk
    late = Enrolment.objects.get(group=full_room.group, patient__given_name="Late").patient_id
    for action in ("checkin", "order", "administer"):
        assert f'data-mark="p{dosed}-{action}"' not in by_python
    assert f'data-mark="p{dosed}-vitals"' in by_python and f'data-mark="p{late}-checkin"' in by_python
    if viewer != "admin":
        assert f'data-mark="p{late}-administer"' in by_python
        # Checked in with no order yet: the card says the order comes first and offers no lot.
        drowsy = Enrolment.objects.get(group=full_room.group, patient__given_name="Drowsy").patient_id
        assert f'data-mark="p{drowsy}-administer"' not in by_python
        card = by_python[by_python.index(f'id="patient-{drowsy}"') :]
        assert "No dose is ordered yet: the prescriber's order comes first." in card[: card.index("</section>")]
    # Each state's banner or notice is on the page the test compares.
    for shown in (
        "the enrolment gate is closed",
        "weekly limit reached",
        "pre-dose vitals at a stop level",
        "Pre-dose BP to review before the dose",
        "Pre-dose BP reviewed</strong>",
        "Order the dose again",
        "a prescriber's same-day assessment is needed",
        "Suicide risk assessed</strong>",
        "Same-day suicide screen:",
        "Pregnancy check not passed",
        "sedated before the dose</h3>",
        "already dosed today</h3>",
        "Safety finding to review before the dose</h3>",
        "not taken yet, due now",
        "not taken yet<br><strong>Discharge:</strong> not before",
        "done at",
        "discharged ",
        "checked in</span>",
        "not checked in</span>",
        "alert-stop",
        "alert-review",
        "before the dose MOAA/S",
        "AE: nausea &quot;mild&quot; &lt;b&gt; (Mild)",
        '<pre class="notes">',
    ):
        assert shown in by_python, shown


def test_a_room_of_no_patients_says_so_as_the_template_did(cast):
    by_template = Template(CARDS_TEMPLATE).render(Context({"room": []}))
    assert by_template == '<p class="muted">No patients of yours are enrolled in this group.</p>'
