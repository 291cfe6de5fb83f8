"""The people who use Kapstone, by what they do in the practice."""

from django.db import models


class Role(models.TextChoices):
    ADMIN = "admin", "Practice admin"
    PRESCRIBER = "prescriber", "Prescriber"
    THERAPIST = "therapist", "Therapist / facilitator"
    NURSE = "nurse", "Nurse"
    RESEARCHER = "researcher", "Researcher"
    PATIENT = "patient", "Patient"


# Clinicians work from a care team: they see only the patients they look after.
CLINICAL_ROLES = frozenset({Role.PRESCRIBER, Role.THERAPIST, Role.NURSE})
# Everyone who may open an identified patient record (admins see all, clinicians their care team).
RECORD_ROLES = CLINICAL_ROLES | {Role.ADMIN}
STAFF_ROLES = RECORD_ROLES | {Role.RESEARCHER}
