"""Who changes which setting: a prescriber a clinical one, the admin an operational one; the admin proposes a
clinical change, and another person, a prescriber, approves it (every check running again) or declines it."""

import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections
from django.urls import reverse

from kapstone.audit.models import AuditEvent
from kapstone.integration.selectors import practice_window_settings
from kapstone.practice.models import PracticeSetting, SettingProposal
from kapstone.practice.registry import SettingRefused
from kapstone.practice.services import (
    practice_setting_change,
    practice_setting_reset,
    setting_change_propose,
    setting_proposal_approve,
    setting_proposal_decline,
)
from kapstone.practice.settings_store import practice_value_set
from kapstone.program.planning import OPENING_HOURS_KEY
from tests.conftest import signed_in_client
from tests.foundation.test_practice_settings import SETTINGS_URL, specs

CLINICAL = "integration.preferred_hours"  # 48 h by default, bounded 24-72 h, below integration.outer_hours
OPERATIONAL = "integration.reminder_offsets_hours"


def propose(cast, value="36", *, key=CLINICAL, reason="Our groups meet the next day") -> SettingProposal:
    return setting_change_propose(actor=cast.admin, key=key, action="change", raw_value=value, reason=reason)


def decide_url(proposal) -> str:
    return reverse("practice:setting_proposal_decide", kwargs={"proposal_id": proposal.pk})


def _proposal_events():
    return list(AuditEvent.objects.filter(object_type="practice_setting_proposal").order_by("pk"))


# --- who changes what -----------------------------------------------------------------------------------------


def test_wording_reminders_and_opening_hours_are_operational_and_every_threshold_is_clinical():
    operational = {key for key, spec in specs().items() if not spec.clinical}
    assert {
        OPERATIONAL,
        "measures.invitation_expiry_days",
        "measures.reminder_every_days",
        "measures.crisis_resources",
        OPENING_HOURS_KEY,
        "dosing.readiness_digest_hour",
    } <= operational
    clinical_areas = (
        "dosing.",
        "screening.",
        "integration.preferred_hours",
        "integration.outer_hours",
        "measures.plan",
    )
    # The evening the readiness digest goes out is the dosing room's one operational setting: it decides no dose.
    assert not {key for key in operational - {"dosing.readiness_digest_hour"} if key.startswith(clinical_areas)}


@pytest.mark.parametrize("role", ["admin", "therapist", "nurse", "researcher", "alice_user"])
def test_only_a_prescriber_changes_a_clinical_setting(cast, role):
    with pytest.raises(SettingRefused, match="is a clinical setting: a prescriber"):
        practice_setting_change(actor=cast.user(role), key=CLINICAL, raw_value="36", reason="x")
    assert not PracticeSetting.objects.exists()


def test_a_prescriber_who_is_the_medical_director_changes_a_clinical_setting(cast):
    cast.charlie.is_medical_director = True
    cast.charlie.save(update_fields=["is_medical_director"])
    assert practice_setting_change(actor=cast.charlie, key=CLINICAL, raw_value="36", reason="x").value == 36


def test_a_medical_director_flag_on_another_role_grants_nothing(cast):
    cast.admin.is_medical_director = True
    cast.admin.save(update_fields=["is_medical_director"])
    with pytest.raises(SettingRefused, match="propose the change instead"):
        practice_setting_change(actor=cast.admin, key=CLINICAL, raw_value="36", reason="x")


@pytest.mark.parametrize("role", ["bob", "therapist", "nurse"])
def test_only_the_admin_changes_an_operational_setting(cast, role):
    with pytest.raises(SettingRefused, match="is an operational setting: the practice admin changes it"):
        practice_setting_change(actor=cast.user(role), key=OPERATIONAL, raw_value="4", reason="x")
    assert practice_setting_change(actor=cast.admin, key=OPERATIONAL, raw_value="4", reason="x").value == [4]


def test_an_admin_may_not_reset_a_clinical_setting_either(cast):
    practice_value_set(actor=cast.bob, key=CLINICAL, value=36, reason="our protocol")
    with pytest.raises(SettingRefused, match="is a clinical setting"):
        practice_setting_reset(actor=cast.admin, key=CLINICAL, reason="back")
    assert PracticeSetting.objects.filter(key=CLINICAL).exists()


# --- propose --------------------------------------------------------------------------------------------------


def test_an_admins_proposal_changes_nothing_until_approved_and_is_audited(cast):
    proposal = propose(cast)
    assert (proposal.status, proposal.value, proposal.proposed_by) == ("pending", 36, cast.admin)
    assert not PracticeSetting.objects.exists() and practice_window_settings()["preferred_hours"] == 48
    (event,) = _proposal_events()
    assert (event.action, event.actor_label, event.object_id) == ("create", "admin", str(proposal.pk))
    assert event.detail_data == {
        "key": CLINICAL,
        "proposal": "change",
        "value": 36,
        "reason": "Our groups meet the next day",
    }


@pytest.mark.parametrize(
    ("key", "value", "reason", "message"),
    [
        (CLINICAL, "96", "Longer", "cannot exceed 72 h"),
        (CLINICAL, "thirty", "Shorter", "must be a number"),
        (CLINICAL, "36", "  ", "a reason is required"),
        ("integration.prefered_hours", "36", "Shorter", "There is no practice setting 'integration.prefered_hours'"),
        (OPERATIONAL, "4", "Later", "is an operational setting: the practice admin changes it directly"),
        ("integration.outer_hours", "40", "Shorter", "must not exceed"),
    ],
)
def test_a_proposal_is_checked_as_it_would_be_applied(cast, key, value, reason, message):
    with pytest.raises(SettingRefused, match=message):
        propose(cast, value, key=key, reason=reason)
    assert not SettingProposal.objects.exists() and not _proposal_events()


@pytest.mark.parametrize("role", ["bob", "therapist", "researcher"])
def test_only_the_admin_proposes(cast, role):
    with pytest.raises(SettingRefused, match="the practice admin proposes"):
        setting_change_propose(actor=cast.user(role), key=CLINICAL, action="change", raw_value="36", reason="x")


def test_a_reset_can_be_proposed_only_where_the_practice_has_its_own_value(cast):
    with pytest.raises(SettingRefused, match="already follows the cited default"):
        setting_change_propose(actor=cast.admin, key=CLINICAL, action="reset", reason="Back")
    practice_value_set(actor=cast.bob, key=CLINICAL, value=36, reason="our protocol")
    proposal = setting_change_propose(actor=cast.admin, key=CLINICAL, action="reset", reason="Back to 48 h")
    setting_proposal_approve(actor=cast.bob, proposal_id=proposal.pk)
    assert not PracticeSetting.objects.exists()


# --- approve and decline --------------------------------------------------------------------------------------


def test_a_prescriber_approves_and_the_change_takes_effect_under_their_name(cast):
    proposal = propose(cast)
    setting_proposal_approve(actor=cast.bob, proposal_id=proposal.pk, note="Agreed at the team meeting")
    proposal.refresh_from_db()
    assert (proposal.status, proposal.decided_by, proposal.decision_note) == (
        "approved",
        cast.bob,
        "Agreed at the team meeting",
    )
    assert proposal.decided_at is not None
    row = PracticeSetting.objects.get(key=CLINICAL)
    assert row.value == 36 and row.updated_by == "bob" and "proposed by admin" in row.reason
    assert practice_window_settings()["preferred_hours"] == 36
    created, decided = _proposal_events()
    assert (decided.action, decided.actor_label) == ("update", "bob")
    assert decided.detail_data == {"key": CLINICAL, "decision": "approved", "note": "Agreed at the team meeting"}
    change = AuditEvent.objects.get(object_type="practice_setting")
    assert (change.action, change.actor_label) == ("update", "bob")


def test_a_prescriber_declines_with_a_note_and_nothing_changes(cast):
    proposal = propose(cast)
    with pytest.raises(SettingRefused, match="a note is required"):
        setting_proposal_decline(actor=cast.bob, proposal_id=proposal.pk, note=" ")
    setting_proposal_decline(actor=cast.bob, proposal_id=proposal.pk, note="Our evidence supports 48 h")
    proposal.refresh_from_db()
    assert (proposal.status, proposal.decided_by, proposal.decision_note) == (
        "declined",
        cast.bob,
        "Our evidence supports 48 h",
    )
    assert not PracticeSetting.objects.exists()
    assert _proposal_events()[-1].detail_data["decision"] == "declined"


@pytest.mark.parametrize("role", ["admin", "therapist", "nurse", "researcher", "alice_user"])
def test_only_a_prescriber_approves_or_declines(cast, role):
    proposal = propose(cast)
    with pytest.raises(SettingRefused, match="A prescriber"):
        setting_proposal_approve(actor=cast.user(role), proposal_id=proposal.pk)
    with pytest.raises(SettingRefused):
        setting_proposal_decline(actor=cast.user(role), proposal_id=proposal.pk, note="no")
    proposal.refresh_from_db()
    assert proposal.status == "pending" and not PracticeSetting.objects.exists()


def test_the_proposer_never_approves_their_own_proposal(cast):
    proposal = propose(cast)
    cast.admin.role = "prescriber"  # the admin's login later given a prescriber's role
    cast.admin.save(update_fields=["role"])
    with pytest.raises(SettingRefused, match="You proposed this change"):
        setting_proposal_approve(actor=cast.admin, proposal_id=proposal.pk)
    assert not PracticeSetting.objects.exists()


def test_a_proposal_is_decided_once(cast):
    proposal = propose(cast)
    setting_proposal_decline(actor=cast.bob, proposal_id=proposal.pk, note="No")
    with pytest.raises(SettingRefused, match="already declined by bob; a proposal is decided once"):
        setting_proposal_approve(actor=cast.charlie, proposal_id=proposal.pk)
    assert not PracticeSetting.objects.exists()


def test_approval_runs_every_check_again_against_the_settings_in_force_now(cast):
    proposal = propose(cast, "60")
    practice_setting_change(actor=cast.bob, key="integration.outer_hours", raw_value="56", reason="Shorter")
    with pytest.raises(SettingRefused, match="must not exceed") as refused:
        setting_proposal_approve(actor=cast.charlie, proposal_id=proposal.pk)
    assert "(the proposed value)" in str(refused.value) and "(the practice value)" in str(refused.value)
    proposal.refresh_from_db()
    assert proposal.status == "pending" and PracticeSetting.objects.get().key == "integration.outer_hours"


def test_an_unknown_proposal_is_refused(cast):
    with pytest.raises(SettingRefused, match="There is no proposal 999"):
        setting_proposal_approve(actor=cast.bob, proposal_id=999)


# --- the page -------------------------------------------------------------------------------------------------


def test_an_admins_change_to_a_clinical_setting_on_the_page_becomes_a_proposal(cast):
    client = signed_in_client(cast.admin)
    page = client.get(SETTINGS_URL).content.decode()
    assert "A change you make to a clinical setting becomes a proposal" in page
    assert "A prescriber approves this change before it takes effect." in page
    response = client.post(SETTINGS_URL, {"key": CLINICAL, "action": "change", "value": "36", "reason": "Next day"})
    assert response.status_code == 302
    assert SettingProposal.objects.get().value == 36 and not PracticeSetting.objects.exists()
    page = client.get(response.url).content.decode()
    assert "waits for a prescriber to approve it" in page and "Waiting for a prescriber" in page


def test_an_admins_proposal_with_bad_input_answers_400_beside_the_setting(cast):
    response = signed_in_client(cast.admin).post(
        SETTINGS_URL, {"key": CLINICAL, "action": "change", "value": "96", "reason": "Longer"}
    )
    assert response.status_code == 400 and "cannot exceed 72 h" in response.content.decode()
    assert not SettingProposal.objects.exists()


def test_a_prescriber_sees_pending_proposals_and_approves_one_on_the_page(cast):
    proposal = propose(cast)
    client = signed_in_client(cast.bob)
    page = client.get(SETTINGS_URL).content.decode()
    assert "Proposed changes waiting for a prescriber" in page and "Our groups meet the next day" in page
    assert decide_url(proposal) in page and "You change the clinical settings" in page
    response = client.post(decide_url(proposal), {"decision": "approve", "note": ""})
    assert response.status_code == 302 and response.url == f"{SETTINGS_URL}#setting-integration-preferred_hours"
    assert practice_window_settings()["preferred_hours"] == 36
    assert "Proposed changes waiting" not in client.get(SETTINGS_URL).content.decode()


def test_a_prescriber_declines_on_the_page_and_a_decline_without_a_note_answers_400(cast):
    proposal = propose(cast)
    client = signed_in_client(cast.bob)
    response = client.post(decide_url(proposal), {"decision": "decline", "note": ""})
    assert response.status_code == 400 and "a note is required" in response.content.decode()
    response = client.post(decide_url(proposal), {"decision": "decline", "note": "Keep 48 h"})
    assert response.status_code == 302
    proposal.refresh_from_db()
    assert proposal.status == "declined" and not PracticeSetting.objects.exists()


@pytest.mark.parametrize("post", [{}, {"decision": "maybe"}])
def test_a_decision_that_is_neither_approve_nor_decline_answers_400(cast, post):
    proposal = propose(cast)
    response = signed_in_client(cast.bob).post(decide_url(proposal), post)
    assert response.status_code == 400 and "Choose whether to approve or decline" in response.content.decode()
    proposal.refresh_from_db()
    assert proposal.status == "pending"


def test_an_unknown_proposal_on_the_page_is_404(cast):
    response = signed_in_client(cast.bob).post(
        reverse("practice:setting_proposal_decide", kwargs={"proposal_id": 999}), {"decision": "approve"}
    )
    assert response.status_code == 404


@pytest.mark.parametrize("role", ["admin", "therapist", "nurse", "researcher", "alice_user"])
def test_other_roles_cannot_decide_a_proposal_on_the_page(cast, role):
    proposal = propose(cast)
    response = signed_in_client(cast.user(role)).post(decide_url(proposal), {"decision": "approve"})
    assert response.status_code == 403
    proposal.refresh_from_db()
    assert proposal.status == "pending"


def test_the_proposer_approving_on_the_page_is_refused_with_400(cast):
    proposal = propose(cast)
    cast.admin.role = "prescriber"
    cast.admin.save(update_fields=["role"])
    response = signed_in_client(cast.admin).post(decide_url(proposal), {"decision": "approve"})
    assert response.status_code == 400 and "You proposed this change" in response.content.decode()


def test_a_prescriber_sees_operational_settings_but_no_form_to_change_them(cast):
    page = signed_in_client(cast.bob).get(SETTINGS_URL).content.decode()
    assert "The practice admin changes this setting." in page
    response = signed_in_client(cast.bob).post(
        SETTINGS_URL, {"key": OPERATIONAL, "action": "change", "value": "4", "reason": "x"}
    )
    assert response.status_code == 400 and "the practice admin changes it" in response.content.decode()


# --- the command ----------------------------------------------------------------------------------------------


def test_the_command_proposes_lists_and_approves(cast, capsys):
    call_command("practice_setting", "propose", CLINICAL, "36", "--reason", "Next day", "--by", "admin")
    proposal = SettingProposal.objects.get()
    call_command("practice_setting", "list")
    out = capsys.readouterr().out
    assert f'{proposal.pk}: {CLINICAL} -> 36  [proposed by admin: "Next day"]' in out
    call_command("practice_setting", "approve", str(proposal.pk), "--by", "bob")
    assert f"Proposal {proposal.pk} ({CLINICAL}): approved." in capsys.readouterr().out
    assert PracticeSetting.objects.get().value == 36


def test_the_command_declines_with_a_note(cast):
    proposal = propose(cast)
    call_command("practice_setting", "decline", str(proposal.pk), "--by", "bob", "--note", "Keep 48 h")
    proposal.refresh_from_db()
    assert proposal.status == "declined"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["approve", "{pk}", "--by", "admin"], "A prescriber"),
        (["approve", "{pk}", "--by", "nobody"], "no active staff login 'nobody'"),
        (["approve", "999", "--by", "bob"], "There is no proposal 999"),
        (["propose", CLINICAL, "96", "--reason", "x", "--by", "admin"], "cannot exceed 72 h"),
        (["propose", CLINICAL, "36", "--reason", "x", "--by", "bob"], "the practice admin proposes"),
    ],
)
def test_the_command_refuses_a_bad_proposal_or_decision_with_exit_status_2(cast, args, message):
    proposal = propose(cast)
    with pytest.raises(CommandError) as refused:
        call_command("practice_setting", *[arg.format(pk=proposal.pk) for arg in args])
    assert refused.value.returncode == 2 and message in str(refused.value)
    proposal.refresh_from_db()
    assert proposal.status == "pending" and SettingProposal.objects.count() == 1


# --- concurrency ----------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_prescribers_approving_at_once_decide_the_proposal_exactly_once(cast):
    if connection.vendor != "postgresql":
        pytest.skip("SELECT ... FOR UPDATE is a no-op on SQLite; this runs on PostgreSQL (CI runs the suite there)")
    proposal = propose(cast)
    barrier = threading.Barrier(2)
    outcomes = {}

    def approve(name, prescriber):
        try:
            barrier.wait()
            setting_proposal_approve(actor=prescriber, proposal_id=proposal.pk, note=name)
            outcomes[name] = "done"
        except SettingRefused as refusal:
            outcomes[name] = str(refusal)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=approve, args=item) for item in {"bob": cast.bob, "charlie": cast.charlie}.items()
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["bob", "charlie"] and list(outcomes.values()).count("done") == 1
    refused = next(outcome for outcome in outcomes.values() if outcome != "done")
    assert "already approved by" in refused and "a proposal is decided once" in refused
    proposal.refresh_from_db()
    assert proposal.status == "approved" and proposal.decision_note == proposal.decided_by.get_username()
    assert PracticeSetting.objects.get().value == 36
    assert AuditEvent.objects.filter(object_type="practice_setting").count() == 1
