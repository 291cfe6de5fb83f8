"""The audit trail is written as parallel chains (kapstone.audit.services explains why), so the database lets a
chain head be created at the start of its own chain: chain N starts from N - 1 written as 64 hex digits, chain 1 from
all zeros as before. Only chains 1 to CHAINS_AT_MOST may be opened. Everything else 0004 guards stays: a head only
advances to the entry that follows it and is never removed.
"""

from django.db import migrations

HEAD_ADVANCES_ONLY = "the audit chain head only advances to the entry written after it"
HEAD_STARTS_AT_GENESIS = "an audit chain head starts at the beginning of the chain"
HEAD_KEPT = "the audit chain head cannot be removed"
# kapstone.audit.models.CHAINS_AT_MOST when this was written; a migration keeps the value it was written with.
CHAINS_AT_MOST = 64

HEAD_ADVANCES = """
    NEW.id = OLD.id AND EXISTS (
        SELECT 1 FROM audit_auditevent
        WHERE id = NEW.last_event_id AND hash = NEW.last_hash AND prev_hash = OLD.last_hash
    )
"""
HEAD_IS_ONLY_GENESIS = f"NEW.last_hash = '{'0' * 64}' AND NEW.last_event_id IS NULL"
HEAD_IS_CHAIN_START = {
    "postgresql": f"""
        NEW.id BETWEEN 1 AND {CHAINS_AT_MOST} AND NEW.last_hash = lpad(to_hex(NEW.id - 1), 64, '0')
        AND NEW.last_event_id IS NULL
    """,
    "sqlite": f"""
        NEW.id BETWEEN 1 AND {CHAINS_AT_MOST} AND NEW.last_hash = printf('%064x', NEW.id - 1)
        AND NEW.last_event_id IS NULL
    """,
}


def _postgresql_guard(head_is_start: str) -> str:
    return f"""
    CREATE OR REPLACE FUNCTION audit_guard_chain_head() RETURNS trigger AS $$
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


def _sqlite_guard(head_is_start: str) -> list[str]:
    return [
        "DROP TRIGGER IF EXISTS audit_auditchainhead_starts_at_genesis;",
        f"""
        CREATE TRIGGER audit_auditchainhead_starts_at_genesis BEFORE INSERT ON audit_auditchainhead
        WHEN NOT ({head_is_start})
        BEGIN SELECT RAISE(ABORT, '{HEAD_STARTS_AT_GENESIS}'); END;
        """,
    ]


def _guard(schema_editor, head_is_start: dict[str, str]) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(_postgresql_guard(head_is_start[vendor]))
    elif vendor == "sqlite":
        for statement in _sqlite_guard(head_is_start[vendor]):
            schema_editor.execute(statement)
    else:
        raise RuntimeError(f"Kapstone has no audit trail immutability trigger for the {vendor} database.")


def chains_start_where_numbered(apps, schema_editor):
    _guard(schema_editor, HEAD_IS_CHAIN_START)


def one_chain_only(apps, schema_editor):
    _guard(schema_editor, {"postgresql": HEAD_IS_ONLY_GENESIS, "sqlite": HEAD_IS_ONLY_GENESIS})


class Migration(migrations.Migration):
    dependencies = [("audit", "0005_audit_trail_refuses_delete_on_sqlite")]

    operations = [migrations.RunPython(chains_start_where_numbered, one_chain_only)]
