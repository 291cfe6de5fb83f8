"""SQLite refuses DELETE on the audit trail too, as PostgreSQL has since 0004: an event, its patient links and the
chain head cannot be removed by raw SQL or a queryset .delete().

Only emptying the whole database with `flush` gets through (kapstone.audit.db explains how), as TRUNCATE does on
PostgreSQL; a connection that lacks the function the triggers ask (the sqlite3 shell) is refused outright.
"""

from django.db import migrations

from kapstone.audit.db import EMPTYING_FUNCTION

APPEND_ONLY = "the audit trail is append-only"
HEAD_KEPT = "the audit chain head cannot be removed"
GUARDED = {
    "audit_auditevent": APPEND_ONLY,
    "audit_auditeventpatient": APPEND_ONLY,
    "audit_auditchainhead": HEAD_KEPT,
}

FORWARD = [
    f"""
    CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
    WHEN NOT {EMPTYING_FUNCTION}()
    BEGIN SELECT RAISE(ABORT, '{message}'); END;
    """
    for table, message in GUARDED.items()
]
REVERSE = [f"DROP TRIGGER IF EXISTS {table}_no_delete;" for table in GUARDED]


def add_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in FORWARD:
            schema_editor.execute(statement)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in REVERSE:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_audit_trail_immutable")]

    operations = [migrations.RunPython(add_triggers, drop_triggers)]
