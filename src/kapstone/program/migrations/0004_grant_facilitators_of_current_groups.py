"""Facilitators of the groups under way may open their enrolled patients' records (program.services
.facilitator_access_sync does this for every later assignment and enrolment): each facilitator of a forming or active
group, or of any of its sessions, who is not yet on an enrolled patient's care team gets a membership granted for
that group. Memberships that exist (made by hand or granted already) are left as they are.

A migration cannot write the audit trail (its hash chain is kept by the audit service on the current models); the
rows it adds are marked by granted_for_group_id, and the next sync of each group audits any change to them."""

from django.db import migrations

CURRENT_STATUSES = ("forming", "active")


def grant_facilitators(apps, schema_editor):
    Group = apps.get_model("program", "Group")
    GroupSession = apps.get_model("program", "GroupSession")
    Enrolment = apps.get_model("program", "Enrolment")
    CareTeamMembership = apps.get_model("patients", "CareTeamMembership")
    for group in Group.objects.filter(status__in=CURRENT_STATUSES).order_by("pk"):
        staff_ids = set(group.facilitators.values_list("pk", flat=True))
        staff_ids |= set(
            GroupSession.facilitators.through.objects.filter(groupsession__group_id=group.pk).values_list(
                "user_id", flat=True
            )
        )
        patient_ids = Enrolment.objects.filter(group_id=group.pk, status="enrolled").values_list(
            "patient_id", flat=True
        )
        for patient_id in patient_ids:
            present = set(CareTeamMembership.objects.filter(patient_id=patient_id).values_list("staff_id", flat=True))
            CareTeamMembership.objects.bulk_create(
                CareTeamMembership(patient_id=patient_id, staff_id=staff_id, granted_for_group_id=group.pk)
                for staff_id in sorted(staff_ids - present)
            )


def remove_grants(apps, schema_editor):
    CareTeamMembership = apps.get_model("patients", "CareTeamMembership")
    CareTeamMembership.objects.filter(granted_for_group_id__isnull=False).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("program", "0003_session_telehealth"),
        ("patients", "0002_childbearing_potential_and_facilitator_grants"),
    ]

    operations = [migrations.RunPython(grant_facilitators, remove_grants)]
