import hashlib

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.crypto import salted_hmac

from kapstone.accounts.roles import CLINICAL_ROLES, STAFF_ROLES, Role

# What a person's name is written from (User.display_name, and so str(user)): the pages that name who entered,
# acknowledged or facilitated something read these of them, not the whole account (issue 19).
DISPLAY_NAME_FIELDS = ("username", "first_name", "last_name", "credentials")


class User(AbstractUser):
    """A login. Staff carry a role; patients log in to the portal and are linked from their record."""

    role = models.CharField(max_length=20, choices=Role.choices)
    credentials = models.CharField(max_length=60, blank=True, help_text="Shown after the name, e.g. MD, PhD, RN.")
    # The prescriber who answers for the practice's clinical settings and receives escalated alerts. A flag on a
    # prescriber rather than a role of its own, because the medical director also treats patients.
    is_medical_director = models.BooleanField(default=False)
    # Raised to end every session this user has open: a session carries a hash of the password and this number,
    # so a reset two-factor or a deactivation signs them out everywhere, as a password change does.
    session_generation = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["last_name", "first_name"]

    def __str__(self) -> str:
        return self.display_name

    def _get_session_auth_hash(self, secret=None):
        return salted_hmac(
            "kapstone.accounts.User.session_auth_hash",
            f"{self.password}:{self.session_generation}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

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


def link_token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AccountLink(models.Model):
    """An emailed link to set a password: a new patient's portal invitation, a new staff member's set-up, or a
    password reset.

    Only the token's hash is stored, so a copy of the database cannot sign anyone in. A link is spent on first
    use, expires, and a newer link of the same kind for the same person ends the older ones.
    """

    class Purpose(models.TextChoices):
        PORTAL_INVITATION = "portal_invitation", "Portal invitation"
        PASSWORD_RESET = "password_reset", "Password reset"
        STAFF_SETUP = "staff_setup", "Staff set-up"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="account_links")
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} for {self.user_id}"
