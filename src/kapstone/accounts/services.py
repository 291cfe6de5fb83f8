"""Writes to staff accounts, by practice admins. Each is atomic and audited."""

from axes.utils import reset as axes_reset
from django.contrib.auth import get_user_model
from django.db import transaction
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from kapstone.accounts.roles import STAFF_ROLES
from kapstone.audit import services as audit


class StaffError(ValueError):
    """A change to a staff account that must be refused, with a message for the admin."""


@transaction.atomic
def staff_create(
    *,
    actor,
    username: str,
    first_name: str,
    last_name: str,
    email: str,
    role: str,
    credentials: str,
    temporary_password: str,
):
    """A new staff login. They enrol an authenticator app at their first sign-in, before anything else."""
    if role not in STAFF_ROLES:
        raise StaffError("Choose a staff role.")
    user = get_user_model().objects.create_user(
        username=username,
        password=temporary_password,
        email=email,
        first_name=first_name,
        last_name=last_name,
        role=role,
        credentials=credentials,
    )
    audit.record(action=audit.Action.CREATE, actor=actor, object_type="staff", object_id=user.pk, detail={"role": role})
    return user


@transaction.atomic
def two_factor_device_confirm(*, actor, device: TOTPDevice) -> None:
    """A staff member's own authenticator app, confirmed by a code it showed: from now on sign-in asks for it."""
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    audit.record(action=audit.Action.UPDATE, actor=actor, object_type="two_factor_device", object_id=device.pk)


@transaction.atomic
def staff_set_active(*, actor, staff, active: bool):
    if staff.pk == actor.pk and not active:
        raise StaffError("You cannot deactivate your own login.")
    staff.is_active = active
    staff.save(update_fields=["is_active"])
    audit.record(
        action=audit.Action.UPDATE, actor=actor, object_type="staff", object_id=staff.pk, detail={"active": active}
    )


@transaction.atomic
def staff_reset_two_factor(*, actor, staff) -> None:
    """For a lost phone: removes the devices, so the next sign-in enrols a new authenticator app."""
    TOTPDevice.objects.filter(user=staff).delete()
    StaticDevice.objects.filter(user=staff).delete()
    audit.record(
        action=audit.Action.UPDATE,
        actor=actor,
        object_type="staff_two_factor",
        object_id=staff.pk,
        detail={"reset": True},
    )


@transaction.atomic
def staff_unlock(*, actor, staff) -> None:
    axes_reset(username=staff.get_username())
    audit.record(
        action=audit.Action.UPDATE,
        actor=actor,
        object_type="staff_lockout",
        object_id=staff.pk,
        detail={"unlocked": True},
    )
