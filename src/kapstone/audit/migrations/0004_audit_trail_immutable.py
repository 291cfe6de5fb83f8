"""The database itself keeps the audit trail append-only, so raw SQL (or a queryset .update() or .delete() that
skips the models' guards) cannot rewrite or remove an entry.

Events and their patient links: PostgreSQL refuses UPDATE and DELETE; SQLite refuses UPDATE only, because Django
empties SQLite tables with DELETE (a test database is flushed that way after each transactional test) where
PostgreSQL uses TRUNCATE, which row triggers do not see.

The chain head is rewritten by every append, so it cannot simply be frozen: it may only advance to the entry that
follows the hash it holds, it is only ever created at the start of the chain, and (on PostgreSQL) never deleted.
Rolling it back to hide the newest entries is refused; verify_audit catches what gets past (a TRUNCATE).

On SQLite, a later migration that alters one of these tables rebuilds it, which drops its triggers: such a
migration must create them again.
"""

from django.db import migrations

APPEND_ONLY = "the audit trail is append-only"
HEAD_ADVANCES_ONLY = "the audit chain head only advances to the entry written after it"
HEAD_STARTS_AT_GENESIS = "an audit chain head starts at the beginning of the chain"
HEAD_KEPT = "the audit chain head cannot be removed"
GENESIS_HASH = "0" * 64
APPEND_ONLY_TABLES = ["audit_auditevent", "audit_auditeventpatient"]

# Whether NEW (an update of OLD) moves the head one entry on: to an entry that chains from the old head.
HEAD_ADVANCES = """
    NEW.id = OLD.id AND EXISTS (
        SELECT 1 FROM audit_auditevent
        WHERE id = NEW.last_event_id AND hash = NEW.last_hash AND prev_hash = OLD.last_hash
    )
"""
HEAD_IS_GENESIS = f"NEW.last_hash = '{GENESIS_HASH}' AND NEW.last_event_id IS NULL"


def guard_chain_head(head_is_start: str, *, replace: bool = False) -> str:
    """The function the chain head's trigger runs, given the condition for a head created at a chain's start
    (migration 0006 replaces it with one that lets each of several chains start)."""
    return f"""
    CREATE {"OR REPLACE " if replace else ""}FUNCTION audit_guard_chain_head() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            RAISE EXCEPTION '{HEAD_KEPT}' USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF TG_OP = 'INSERT' THEN
            IF NOT ({head_is_start}) THEN
                RAISE EXCEPTION '{HEAD_STARTS_AT_GENESIS}' USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN NEW;
        END IF;
        IF NOT ({HEAD_ADVANCES}) THEN
            RAISE EXCEPTION '{HEAD_ADVANCES_ONLY}' USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END;
    $$ LANGUAGE plpgsql;
    """


POSTGRESQL_FORWARD = [
    f"""
    CREATE FUNCTION audit_refuse_change() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION '{APPEND_ONLY}' USING ERRCODE = 'integrity_constraint_violation';
    END;
    $$ LANGUAGE plpgsql;
    """,
    *(
        f"""
        CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
        FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
        """
        for table in APPEND_ONLY_TABLES
    ),
    guard_chain_head(HEAD_IS_GENESIS),
    """
    CREATE TRIGGER audit_auditchainhead_guarded BEFORE INSERT OR UPDATE OR DELETE ON audit_auditchainhead
    FOR EACH ROW EXECUTE FUNCTION audit_guard_chain_head();
    """,
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS audit_auditchainhead_guarded ON audit_auditchainhead;",
    "DROP FUNCTION IF EXISTS audit_guard_chain_head();",
    *(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};" for table in APPEND_ONLY_TABLES),
    "DROP FUNCTION IF EXISTS audit_refuse_change();",
]
SQLITE_FORWARD = [
    *(
        f"""
        CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
        BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END;
        """
        for table in APPEND_ONLY_TABLES
    ),
    f"""
    CREATE TRIGGER audit_auditchainhead_advances_only BEFORE UPDATE ON audit_auditchainhead
    WHEN NOT ({HEAD_ADVANCES})
    BEGIN SELECT RAISE(ABORT, '{HEAD_ADVANCES_ONLY}'); END;
    """,
    f"""
    CREATE TRIGGER audit_auditchainhead_starts_at_genesis BEFORE INSERT ON audit_auditchainhead
    WHEN NOT ({HEAD_IS_GENESIS})
    BEGIN SELECT RAISE(ABORT, '{HEAD_STARTS_AT_GENESIS}'); END;
    """,
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS audit_auditchainhead_starts_at_genesis;",
    "DROP TRIGGER IF EXISTS audit_auditchainhead_advances_only;",
    *(f"DROP TRIGGER IF EXISTS {table}_no_update;" for table in APPEND_ONLY_TABLES),
]

STATEMENTS = {
    "postgresql": (POSTGRESQL_FORWARD, POSTGRESQL_REVERSE),
    "sqlite": (SQLITE_FORWARD, SQLITE_REVERSE),
}


def _run(schema_editor, direction: int) -> None:
    vendor = schema_editor.connection.vendor
    if vendor not in STATEMENTS:
        raise RuntimeError(f"Kapstone has no audit trail immutability trigger for the {vendor} database.")
    for statement in STATEMENTS[vendor][direction]:
        schema_editor.execute(statement)


def add_triggers(apps, schema_editor):
    _run(schema_editor, 0)


def drop_triggers(apps, schema_editor):
    _run(schema_editor, 1)


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_link_listed_patients")]

    operations = [migrations.RunPython(add_triggers, drop_triggers)]
