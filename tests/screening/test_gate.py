"""The enrolment gate: each missing condition is refused with its own clear message."""

import pytest

from kapstone.program import services as program
from kapstone.program.models import Enrolment, Group
from kapstone.screening import services
from kapstone.screening.consent_forms import current_form
from kapstone.screening.gate import enrolment_blockers
from tests.screening import helpers

pytestmark = pytest.mark.django_db

FORM_VERSION = current_form().version
NOT_SCREENED = "screening has not been done"
NEEDS_REVIEW = "screening decision is needs review without a prescriber's override"
NOT_ELIGIBLE = "screening decision is not eligible, which cannot be overridden"
NOT_CONSULTED = "the outside treatment team has not been consulted"
NO_CONSENT = f"informed consent is not signed (form v{FORM_VERSION})"


def test_a_new_patient_is_blocked_by_all_three_conditions(cast):
    assert enrolment_blockers(patient=cast.alice) == [NOT_SCREENED, NOT_CONSULTED, NO_CONSENT]


def test_an_eligible_consulted_consenting_patient_may_join(cast):
    helpers.ready_for_enrolment(cast)
    assert enrolment_blockers(patient=cast.alice) == []


def test_needs_review_blocks_until_a_prescriber_overrides(cast):
    _, result = helpers.screen(cast, helpers.needs_review_intake())
    helpers.consult(cast)
    helpers.sign_consent(cast)
    assert enrolment_blockers(patient=cast.alice) == [NEEDS_REVIEW]
    services.override_record(
        actor=cast.bob, result=result, justification="Euthymic for years on lithium; outside psychiatrist agrees."
    )
    assert enrolment_blockers(patient=cast.alice) == []


def test_a_rescreen_that_needs_review_again_needs_a_new_override(cast):
    _, result = helpers.screen(cast, helpers.needs_review_intake())
    services.override_record(
        actor=cast.bob, result=result, justification="Euthymic for years on lithium; outside psychiatrist agrees."
    )
    assert NEEDS_REVIEW not in enrolment_blockers(patient=cast.alice)
    services.screening_run(actor=cast.bob, patient=cast.alice)
    assert NEEDS_REVIEW in enrolment_blockers(patient=cast.alice)


def test_not_eligible_blocks_whatever_else_is_done(cast):
    helpers.screen(cast, helpers.not_eligible_intake())
    helpers.consult(cast)
    helpers.sign_consent(cast)
    assert enrolment_blockers(patient=cast.alice) == [NOT_ELIGIBLE]


@pytest.mark.parametrize("outcome", ["no_reply", "declined"])
def test_a_contact_without_an_answer_is_not_a_consultation(cast, outcome):
    helpers.screen(cast)
    helpers.consult(cast, outcome=outcome)
    helpers.sign_consent(cast)
    assert enrolment_blockers(patient=cast.alice) == [NOT_CONSULTED]


def test_concerns_heard_count_as_consulted(cast):
    helpers.screen(cast)
    helpers.consult(cast, outcome="concerns")
    helpers.sign_consent(cast)
    assert enrolment_blockers(patient=cast.alice) == []


def test_unsigned_consent_blocks(cast):
    helpers.screen(cast)
    helpers.consult(cast)
    assert enrolment_blockers(patient=cast.alice) == [NO_CONSENT]


def test_withdrawn_consent_blocks_and_says_when(cast):
    helpers.screen(cast)
    helpers.consult(cast)
    signature = helpers.sign_consent(cast)
    services.consent_withdraw(actor=cast.alice_user, signature=signature)
    signature.refresh_from_db()
    assert enrolment_blockers(patient=cast.alice) == [
        f"informed consent (form v{FORM_VERSION}) was withdrawn on {signature.withdrawn_at:%Y-%m-%d}"
    ]


def test_a_signature_on_an_older_form_version_does_not_count(cast):
    helpers.ready_for_enrolment(cast)
    cast.alice.consent_signatures.update(form_version="0")
    assert enrolment_blockers(patient=cast.alice) == [NO_CONSENT]


def _group(cast) -> Group:
    return program.group_create(
        actor=cast.bob,
        name="Thursday group",
        template_id="journey-clinical-style",
        start_date="2030-01-03",
        facilitators=[cast.bob, cast.therapist],
    )


def test_program_enrolment_refuses_with_the_gates_words(cast):
    group = _group(cast)
    with pytest.raises(program.EnrolmentRefused, match=f"cannot join yet: {NOT_SCREENED}; {NOT_CONSULTED}; "):
        program.enrol(actor=cast.bob, group=group, patient=cast.alice)


def test_program_enrolment_succeeds_once_the_gate_is_open(cast):
    group = _group(cast)
    helpers.ready_for_enrolment(cast)
    enrolment = program.enrol(actor=cast.bob, group=group, patient=cast.alice)
    assert enrolment.status == Enrolment.Status.ENROLLED
