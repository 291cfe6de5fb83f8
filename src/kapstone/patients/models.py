import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from kapstone.patients.ages import completed_years

# ICD-10-CM: a letter, two alphanumerics, then optionally a dot and up to four more (CDC ICD-10-CM conventions).
ICD10CM_PATTERN = re.compile(r"^[A-TV-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")


def validate_icd10cm(value: str) -> None:
    if not ICD10CM_PATTERN.match(value or ""):
        raise ValidationError(f"{value!r} is not an ICD-10-CM code (for example F33.1).")


RECORD_NUMBER_PREFIX = "KP-"
RECORD_NUMBER_PATTERN = re.compile(r"^KP-?0*(\d{1,12})$", re.IGNORECASE)


class Sex(models.TextChoices):
    # FHIR administrative gender, so exports map one to one.
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    OTHER = "other", "Other / intersex"
    UNKNOWN = "unknown", "Not recorded"


class ChildbearingPotential(models.TextChoices):
    NOT_RECORDED = "", "Not recorded"
    YES = "yes", "Could become pregnant"
    NO = "no", "No childbearing potential"


def record_number_of(patient_id: int) -> str:
    """The record number of the patient with this key. Derived from the key, so concurrent registrations can never
    be handed the same number, and a page listing patients by key alone (the controlled-substance log) need not
    read them to show it."""
    return f"{RECORD_NUMBER_PREFIX}{patient_id:06d}"


class Patient(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="patient"
    )
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100, db_index=True)
    preferred_name = models.CharField(max_length=100, blank=True)
    date_of_birth = models.DateField()
    sex = models.CharField(max_length=10, choices=Sex.choices, default=Sex.UNKNOWN)
    gender_identity = models.CharField(max_length=60, blank=True)
    pronouns = models.CharField(max_length=30, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=30, blank=True)
    address = models.TextField(blank=True)
    postal_code = models.CharField(max_length=12, blank=True)
    emergency_contact_name = models.CharField(max_length=150, blank=True)
    emergency_contact_relationship = models.CharField(max_length=60, blank=True)
    emergency_contact_phone = models.CharField(max_length=30, blank=True)
    care_team = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="CareTeamMembership", related_name="care_patients", blank=True
    )
    # Whether the patient could become pregnant, as a clinician documented it. The dosing room accepts a pregnancy
    # test marked "not applicable" only when "no" is documented here, with who documented it and when (pregnancy is
    # an absolute contraindication: Spravato prescribing information, 8.1).
    childbearing_potential = models.CharField(
        max_length=8, choices=ChildbearingPotential.choices, default=ChildbearingPotential.NOT_RECORDED, blank=True
    )
    childbearing_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    childbearing_recorded_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["family_name", "given_name", "id"]
        indexes = [
            models.Index(fields=["family_name", "given_name"]),
            # The active patients' keys alone: the staff home counts a clinician's active patients (up to paging's
            # bound) by joining their care team to this index alone, where it read every patient's row for
            # is_active (issue 19).
            models.Index(fields=["id"], condition=models.Q(is_active=True), name="active_patient_ids"),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.record_number})"

    @property
    def record_number(self) -> str:
        return record_number_of(self.pk) if self.pk else ""

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def name_with_pronouns(self) -> str:
        return f"{self.full_name} ({self.pronouns})" if self.pronouns else self.full_name

    @property
    def age(self) -> int:
        """Whole years today, in the practice's time zone."""
        return completed_years(self.date_of_birth, timezone.localdate())


class CareTeamMembership(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="care_team_memberships")
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="care_memberships")
    is_lead = models.BooleanField(default=False)
    # Set when the membership was granted automatically because the staff member facilitates a session of this
    # group course (program.Group id; no foreign key, since patients sits below program). Such a membership is
    # removed with the assignment; one made by hand (NULL here) is never removed automatically.
    granted_for_group_id = models.PositiveIntegerField(null=True, blank=True)
    # An automatic membership opens the record only from `granted_from` until `granted_until` (set by
    # program.services.facilitator_access_sync from the sessions the staff member facilitates: see
    # docs/architecture.md, "Who sees a patient"); outside them it is kept, for the group page's count, but opens
    # nothing. Both are NULL on a membership made by hand, which lasts until it is removed.
    granted_from = models.DateTimeField(null=True, blank=True)
    granted_until = models.DateTimeField(null=True, blank=True)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["patient", "staff"], name="one_membership_per_staff")]

    def __str__(self) -> str:
        return f"{self.staff} on {self.patient}"


def membership_in_force(prefix: str = "") -> Q:
    """The care-team memberships (reached through `prefix`, e.g. "care_team_memberships__") that open a record now:
    every one made by hand, and an automatic (facilitation) one only inside its window. The time is the database's
    own (Now()), so a read compiled once (kapstone.compiled_once) still asks it afresh on every call."""
    return Q(**{f"{prefix}granted_for_group_id__isnull": True}) | Q(
        **{f"{prefix}granted_from__lte": Now(), f"{prefix}granted_until__gt": Now()}
    )


class Diagnosis(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="diagnoses")
    icd10_code = models.CharField("ICD-10-CM code", max_length=8, validators=[validate_icd10cm])
    description = models.CharField(max_length=200)
    is_primary = models.BooleanField(default=False)
    noted_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-is_primary", "icd10_code"]
        verbose_name_plural = "diagnoses"

    def __str__(self) -> str:
        return f"{self.icd10_code} {self.description}"


class Medication(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="medications")
    name = models.CharField(max_length=120)
    dose = models.CharField(max_length=60, help_text="e.g. 20 mg")
    frequency = models.CharField(max_length=60, blank=True, help_text="e.g. once daily")
    started_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} {self.dose} {self.frequency}".strip()


class ExternalClinician(models.Model):
    """A member of the patient's outside treatment team, consulted before enrolment."""

    class Kind(models.TextChoices):
        PSYCHIATRIST = "psychiatrist", "Psychiatrist"
        THERAPIST = "therapist", "Therapist"
        PRIMARY_CARE = "primary_care", "Primary-care doctor"
        OTHER = "other", "Other"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="external_team")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    name = models.CharField(max_length=150)
    organisation = models.CharField(max_length=150, blank=True)
    phone = models.CharField(max_length=30, blank=True)
    email = models.EmailField(blank=True)

    class Meta:
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.name}"
