from django.contrib.auth.models import AbstractUser
from django.db import models

from kapstone.accounts.roles import CLINICAL_ROLES, STAFF_ROLES, Role


class User(AbstractUser):
    """A login. Staff carry a role; patients log in to the portal and are linked from their record."""

    role = models.CharField(max_length=20, choices=Role.choices)
    credentials = models.CharField(max_length=60, blank=True, help_text="Shown after the name, e.g. MD, PhD, RN.")
    # The prescriber who answers for the practice's clinical settings and receives escalated alerts. A flag on a
    # prescriber rather than a role of its own, because the medical director also treats patients.
    is_medical_director = models.BooleanField(default=False)

    class Meta:
        ordering = ["last_name", "first_name"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        name = self.get_full_name() or self.username
        return f"{name}, {self.credentials}" if self.credentials else name

    @property
    def is_staff_member(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def is_clinician(self) -> bool:
        return self.role in CLINICAL_ROLES

    @property
    def is_patient(self) -> bool:
        return self.role == Role.PATIENT
