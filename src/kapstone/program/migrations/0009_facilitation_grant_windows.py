"""Gives every membership granted for facilitating a course (0004) its window, which patients 0004 added: the
record opens from program.services.FACILITATION_LEAD before the first session the staff member facilitates (every
session of the group, for a facilitator of the whole group) until the course template's integration outer bound
after the last one ends. Without a window a grant opens nothing, so this keeps open what was open before, for the
time the rule now allows; a grant whose group has no session of theirs is left for the next sync of the group.

A migration cannot write the audit trail (its hash chain is kept by the audit service on the current models); the
next sync of each group audits any change to these windows."""

import datetime

from django.db import migrations
from django.db.models import Max, Min

# program.services.FACILITATION_LEAD when this was written: a migration keeps the value it was written with.
LEAD = datetime.timedelta(days=7)


def _outer_bound(group) -> datetime.timedelta:
    from kapstone.program import course_templates

    try:
        template = course_templates.load_template_versions().get((group.template_id, group.template_version))
    except course_templates.TemplateError:
        template = None
    return datetime.timedelta(hours=template.integration.outer_bound_hours if template else 0)


def give_windows(apps, schema_editor):
    Group = apps.get_model("program", "Group")
    GroupSession = apps.get_model("program", "GroupSession")
    CareTeamMembership = apps.get_model("patients", "CareTeamMembership")
    groups = {}
    for row in CareTeamMembership.objects.filter(granted_for_group_id__isnull=False, granted_from__isnull=True):
        group = groups.get(row.granted_for_group_id)
        if group is None:
            group = groups[row.granted_for_group_id] = Group.objects.filter(pk=row.granted_for_group_id).first()
        if group is None:
            continue
        sessions = GroupSession.objects.filter(group_id=group.pk)
        if not group.facilitators.filter(pk=row.staff_id).exists():
            sessions = sessions.filter(facilitators=row.staff_id)
        span = sessions.aggregate(first=Min("starts_at"), last=Max("ends_at"))
        if span["first"] is None:
            continue
        row.granted_from = span["first"] - LEAD
        row.granted_until = span["last"] + _outer_bound(group)
        row.save(update_fields=["granted_from", "granted_until"])


class Migration(migrations.Migration):
    dependencies = [
        ("program", "0008_integration_sessions_followed_index"),
        ("patients", "0004_facilitation_grant_window"),
    ]

    operations = [migrations.RunPython(give_windows, migrations.RunPython.noop)]
