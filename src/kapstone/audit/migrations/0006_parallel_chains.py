"""The audit trail is written as parallel chains (kapstone.audit.services explains why), so the database lets a
chain head be created at the start of its own chain: chain N starts from N - 1 written as 64 hex digits, chain 1 from
all zeros as before. Only chains 1 to CHAINS_AT_MOST may be opened. Everything else 0004 guards stays: a head only
advances to the entry that follows it and is never removed.
"""

import importlib

from django.db import migrations

# The guard 0004 wrote, given another condition for where a head may be created, and its words and condition.
_guarded = importlib.import_module("kapstone.audit.migrations.0004_audit_trail_immutable")
# kapstone.audit.models.CHAINS_AT_MOST when this was written; a migration keeps the value it was written with.
CHAINS_AT_MOST = 64

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


def _sqlite_guard(head_is_start: str) -> list[str]:
    return [
        "DROP TRIGGER IF EXISTS audit_auditchainhead_starts_at_genesis;",
        f"""
        CREATE TRIGGER audit_auditchainhead_starts_at_genesis BEFORE INSERT ON audit_auditchainhead
        WHEN NOT ({head_is_start})
        BEGIN SELECT RAISE(ABORT, '{_guarded.HEAD_STARTS_AT_GENESIS}'); END;
        """,
    ]


def _guard(schema_editor, head_is_start: dict[str, str]) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(_guarded.guard_chain_head(head_is_start[vendor], replace=True))
    elif vendor == "sqlite":
        for statement in _sqlite_guard(head_is_start[vendor]):
            schema_editor.execute(statement)
    else:
        raise RuntimeError(f"Kapstone has no audit trail immutability trigger for the {vendor} database.")


def chains_start_where_numbered(apps, schema_editor):
    _guard(schema_editor, HEAD_IS_CHAIN_START)


def one_chain_only(apps, schema_editor):
    _guard(schema_editor, {"postgresql": _guarded.HEAD_IS_GENESIS, "sqlite": _guarded.HEAD_IS_GENESIS})


class Migration(migrations.Migration):
    dependencies = [("audit", "0005_audit_trail_refuses_delete_on_sqlite")]

    operations = [migrations.RunPython(chains_start_where_numbered, one_chain_only)]
