"""Plain words for the audit trail's codes, so a clinician reading a patient's trail sees what happened.

An event's action (Action) and object type ("dose_record.order", "safety_plan") are codes the apps pass to
`audit.services.record`; they stay in the row as written (the hash covers them), and these words are only how the
trail page says them. A code missing here (an app added one and forgot its words, or an old row whose code no app
writes any more) is still said readably: "journal_image.orphan" reads "Journal image: orphan".
tests/foundation/test_audit_labels.py checks that every code the apps write has its words here.
"""

# By the values of models.Action (which imports this module, so the keys are its plain strings).
ACTION_WORDS: dict[str, str] = {
    "create": "Added",
    "read": "Viewed",
    "update": "Changed",
    "delete": "Removed",
    "export": "Exported",
    "login": "Signed in",
    "logout": "Signed out",
}

OBJECT_WORDS: dict[str, str] = {
    # The patient's record (patients)
    "patient": "Patient record",
    "patient_list": "Patient list",
    "care_team": "Care team",
    "care_team_grant": "Care team access",
    "childbearing_potential": "Childbearing potential",
    "diagnosis": "Diagnosis",
    "medication": "Medication",
    "external_clinician": "Outside clinician",
    # Sign-in and staff (accounts)
    "access_denied": "Access refused",
    "account_link": "Emailed link",
    "account_lockout": "Account locked",
    "link_limit_reached": "Emailed link refused: daily limit reached",
    "login_email": "Login email address",
    "passkey": "Passkey",
    "password": "Password",
    "password_reset_requested": "Password reset request",
    "portal_invitation": "Portal invitation",
    "staff_setup_link": "Staff set-up link",
    "security_events": "Security events",
    "sign_in_failed": "Failed sign-in",
    "staff": "Staff account",
    "staff_lockout": "Staff account lock",
    "staff_two_factor": "Staff two-step sign-in",
    "two_factor_device": "Two-step sign-in device",
    "backup": "Backup",
    "restore": "Restore from backup",
    # Practice settings (practice)
    "practice_setting": "Practice setting",
    "practice_setting_proposal": "Proposed practice setting",
    # Screening and enrolment (screening)
    "consent_signature": "Consent signature",
    "consultation": "Consultation request",
    "consultation_override": "Consultation decision overridden",
    "consultation_reply": "Consultation reply",
    "demo_screening": "Demo screening",
    "enrolment": "Enrolment",
    "intake_version": "Intake form",
    "screening_list": "Screening list",
    "screening_override": "Screening decision overridden",
    "screening_result": "Screening result",
    # Groups and sessions (program)
    "calendar_feed": "Calendar feed",
    "group": "Group",
    "group_plan": "Group plan",
    "group_roster": "Group members",
    "enrolment_candidates": "Patients offered for enrolment",
    "group_session.move": "Session moved",
    "group_session.site": "Session site",
    "group_session.telehealth": "Session by video",
    "session_change_request": "Session change request",
    "unavailability": "Staff away dates",
    # Questionnaires and measures (measures)
    "assessment": "Questionnaire",
    "invitation": "Questionnaire link",
    "assessment.entered_total": "Questionnaire total entered by staff",
    "assessment_expiry": "Questionnaire expired",
    "assessment_schedule": "Questionnaire schedule",
    "critical_alert": "Safety alert",
    "critical_alert_list": "Safety alert list",
    "due_assessment_list": "Questionnaires due",
    "fhir_bundle": "Record export (FHIR)",
    "urine_toxicology": "Urine drug screen",
    # Creativity tasks (creativity)
    "creativity_administration": "Creativity task",
    "creativity_administration_expiry": "Creativity task expired",
    "creativity_history": "Creativity task history",
    "creativity_schedule": "Creativity task schedule",
    "creativity_tasks": "Creativity tasks",
    # Alerts, paging and the on-call rota (alerts)
    "alert_list": "Alert list",
    "alert_notification": "Alert page to staff",
    "notification": "Notification",
    "on_call_default": "Default on-call",
    "on_call_slot": "On-call shift",
    "safety_plan": "Safety plan",
    "staff_paging": "Staff paging",
    # The dosing room and the controlled-substance records (dosing)
    "adverse_event": "Adverse event",
    "controlled_disposal": "Controlled drug disposal",
    "controlled_inventory": "Controlled drug stock count",
    "controlled_substance_log": "Controlled drug log",
    "dea_registration": "DEA registration",
    "dose_record": "Dosing record",
    "dose_record.administration": "Dose given",
    "dose_record.adverse_event": "Adverse event in the dosing room",
    "dose_record.checklist": "Pre-dose checklist",
    "dose_record.discharge": "Discharge after dosing",
    "dose_record.medication_review": "Medication review before dosing",
    "dose_record.note": "Dosing note",
    "dose_record.order": "Dose order",
    "dose_record.ratings": "Sedation and dissociation ratings",
    "dose_record.risk_assessment": "Risk assessment before dosing",
    "dose_record.vitals": "Vital signs in the dosing room",
    "dosing_readiness": "Dosing readiness",
    "dosing_room": "Dosing room",
    "ledger_entry": "Controlled drug ledger entry",
    "loss_report": "Controlled drug loss report",
    "readiness_digest": "Dosing readiness summary",
    "room_risk_assessment": "Room risk assessment",
    "stock_location": "Controlled drug storage",
    "substance_lot.quarantine": "Controlled drug lot quarantined",
    "substance_lot.release": "Controlled drug lot released from quarantine",
    "vitals_reading": "Vital signs",
    # Integration (integration)
    "integration_adherence": "Integration attendance",
    "integration_note": "Integration note",
    "integration_window": "Integration window",
    "journal": "Journal",
    "journal_entry": "Journal entry",
    "journal_entry.sharing": "Journal entry sharing",
    "journal_image": "Journal image",
    "journal_image.orphan": "Unattached journal image",
    "psychotherapy_note": "Psychotherapy note",
    "psychotherapy_note.key_rotation": "Psychotherapy notes re-encrypted",
    # Messages (messaging)
    "message": "Message",
    "message_attachment": "Message attachment",
    "message_inbox": "Message inbox",
    "message_thread": "Message conversation",
    "message_threads": "Message conversations",
    "notification_preference": "Notification preferences",
    # Billing (billing)
    "account_entry": "Billing account entry",
    "billing_account": "Billing account",
    "billing_aging": "Unpaid balances report",
    "billing_export": "Billing export",
    "billing_profile": "Billing details",
    "billing_statement": "Billing statement",
    "fee": "Fee",
    "good_faith_estimate": "Good faith estimate",
    "superbill": "Superbill",
    # Reports, the portal and the demo (outcomes, portal, home)
    "outcomes_report": "Outcomes report",
    "research_export": "Research export",
    "portal_history": "Portal: questionnaire history",
    "portal_home": "Portal: home page",
    "portal_screening": "Portal: screening form",
    "portal_timeline": "Portal: course timeline",
    "demo_practice": "Demo practice",
}


def _readable(code: str) -> str:
    """A code no one gave words to, said as plainly as its own spelling allows."""
    parts = [part.replace("_", " ").strip() for part in code.split(".")]
    parts = [part for part in parts if part]
    if not parts:
        return ""
    head = OBJECT_WORDS.get(code.split(".")[0]) or parts[0].capitalize()
    return ": ".join([head, *parts[1:]])


def object_words(code: str) -> str:
    return OBJECT_WORDS.get(code) or _readable(code)


def action_words(code: str) -> str:
    return ACTION_WORDS.get(code) or _readable(code)
