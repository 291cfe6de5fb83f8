from django.db import migrations, models
from django.db.models import Count

# The object_type session moves were audited under; until this field existed the calendar feeds counted them.
SESSION_MOVE_AUDIT_TYPE = "group_session.move"


def count_past_moves(apps, schema_editor):
    """Starts each session's sequence at the moves it already had, so no subscribed calendar sees it go back."""
    AuditEvent = apps.get_model("audit", "AuditEvent")
    GroupSession = apps.get_model("program", "GroupSession")
    moves = (
        AuditEvent.objects.filter(object_type=SESSION_MOVE_AUDIT_TYPE)
        .values("object_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in moves:
        if row["object_id"].isdecimal():
            GroupSession.objects.filter(pk=int(row["object_id"])).update(calendar_sequence=row["n"])


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0005_audit_trail_refuses_delete_on_sqlite"),
        ("program", "0005_session_site_and_dosing_setting"),
    ]

    operations = [
        migrations.AddField(
            model_name="groupsession",
            name="calendar_sequence",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(count_past_moves, migrations.RunPython.noop),
    ]
