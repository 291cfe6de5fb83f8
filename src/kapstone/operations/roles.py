"""PostgreSQL roles for production: migrations run as the owner, the app connects as a role that can change rows
but not the schema. A table's owner can drop a trigger, and TRUNCATE skips row triggers, so the role that serves
requests must be neither the owner nor hold TRUNCATE."""

import re

from psycopg import sql

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class RoleError(ValueError):
    pass


def _name(value: str, what: str) -> sql.Identifier:
    if not IDENTIFIER.match(value):
        raise RoleError(f"{what} must be a lower-case PostgreSQL name (letters, digits, _), not {value!r}.")
    return sql.Identifier(value)


def role_statements(*, owner: str, app: str, app_password: str, schema: str, database: str) -> list[str]:
    """Idempotent statements: roles are created when missing, and the grants are set again."""
    if owner == app:
        raise RoleError("The owner and the app role must be two different roles.")
    o, a, s, d = _name(owner, "--owner"), _name(app, "--app"), _name(schema, "--schema"), sql.Identifier(database)
    create = """DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {name}) THEN CREATE ROLE {role} LOGIN; END IF;
END $$;"""
    statements = [
        sql.SQL(create).format(name=sql.Literal(owner), role=o),
        sql.SQL(create).format(name=sql.Literal(app), role=a),
        # The app role must not create objects, and so cannot own any: only the owner changes the schema.
        sql.SQL("ALTER ROLE {} NOSUPERUSER NOCREATEDB NOCREATEROLE").format(a),
        sql.SQL("GRANT CONNECT ON DATABASE {} TO {}, {}").format(d, o, a),
        sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(s, o),
        sql.SQL("REVOKE CREATE ON SCHEMA {} FROM PUBLIC").format(s),
        sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(s, a),
        # Tables that exist now (hand them to the owner, in case an earlier migrate ran as someone else) ...
        sql.SQL(
            "DO $$ DECLARE t record; BEGIN FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = {sn} LOOP "
            "EXECUTE format('ALTER TABLE %I.%I OWNER TO %I', {sn}, t.tablename, {on}); END LOOP; END $$;"
        ).format(sn=sql.Literal(schema), on=sql.Literal(owner)),
        sql.SQL(
            "DO $$ DECLARE q record; BEGIN FOR q IN SELECT sequencename FROM pg_sequences WHERE schemaname = {sn} "
            "LOOP EXECUTE format('ALTER SEQUENCE %I.%I OWNER TO %I', {sn}, q.sequencename, {on}); END LOOP; END $$;"
        ).format(sn=sql.Literal(schema), on=sql.Literal(owner)),
        sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(s, a),
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {} TO {}").format(s, a),
        sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {} TO {}").format(s, a),
        # ... and tables later migrations create.
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {}"
        ).format(o, s, a),
        sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT USAGE, SELECT ON SEQUENCES TO {}").format(
            o, s, a
        ),
    ]
    if app_password:
        statements.append(sql.SQL("ALTER ROLE {} PASSWORD {}").format(a, sql.Literal(app_password)))
    return [statement.as_string(None) for statement in statements]
