"""On PostgreSQL an append is one statement, `SELECT * FROM audit_append(...)`: it takes a chain's head, chains and
inserts the events with their patient links, and advances the head, where the writer sent five (BEGIN, the head's
lock, the INSERT, the head's UPDATE, COMMIT), and every page that shows patient data appends (issue 19). Run outside
a transaction it is its own, so the head's lock is held for that one statement.

It chains exactly as kapstone.audit.services did in Python: the head is the lowest-numbered one no other
transaction holds, else the next chain is opened while fewer than the given number are, else one is waited for at
random; each event's hash is SHA-256 of '["<previous hash>",' and the rest of the payload, which the caller hands in
(AuditEvent.payload_after_previous), so the database never has to write JSON the way Python does. The head still
steps one entry at a time, as migration 0004's guard requires.
"""

from django.db import migrations

APPEND = """
CREATE FUNCTION audit_append(
    event_at timestamptz[], event_actor_id bigint[], event_actor_label text[], event_action text[],
    event_patient_id bigint[], event_object_type text[], event_object_id text[], event_detail text[],
    event_ip_address text[], event_payload_after_previous text[],
    link_event_number int[], link_patient_id bigint[], chains_at_most int
) RETURNS TABLE (event_id bigint, event_prev_hash text, event_hash text) AS $$
DECLARE
    chain int;
    chains_open int;
    previous text;
    written bigint[] := '{}';
BEGIN
    SELECT head.id, head.last_hash INTO chain, previous
    FROM audit_auditchainhead head ORDER BY head.id LIMIT 1 FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        SELECT COALESCE(MAX(head.id), 0) INTO chains_open FROM audit_auditchainhead head;
        IF chains_open < chains_at_most THEN
            chain := chains_open + 1;
            -- A writer opening the same chain at the same moment makes this do nothing; the lock below waits for it.
            INSERT INTO audit_auditchainhead (id, last_hash, last_event_id)
            VALUES (chain, lpad(to_hex(chain - 1), 64, '0'), NULL) ON CONFLICT DO NOTHING;
        ELSE
            chain := 1 + floor(random() * chains_open)::int;
        END IF;
        SELECT head.last_hash INTO previous FROM audit_auditchainhead head WHERE head.id = chain FOR UPDATE;
    END IF;
    FOR i IN 1 .. coalesce(array_length(event_at, 1), 0) LOOP
        event_prev_hash := previous;
        event_hash := encode(sha256(convert_to('["' || previous || '",' || event_payload_after_previous[i], 'UTF8')), 'hex');
        INSERT INTO audit_auditevent
            (at, actor_id, actor_label, action, patient_id, object_type, object_id, detail, ip_address, prev_hash, hash)
        VALUES (
            event_at[i], event_actor_id[i], event_actor_label[i], event_action[i], event_patient_id[i],
            event_object_type[i], event_object_id[i], event_detail[i], event_ip_address[i], previous, event_hash
        )
        RETURNING id INTO event_id;
        UPDATE audit_auditchainhead SET last_hash = event_hash, last_event_id = event_id WHERE id = chain;
        written := written || event_id;
        previous := event_hash;
        RETURN NEXT;
    END LOOP;
    INSERT INTO audit_auditeventpatient (event_id, patient_id)
    SELECT written[link.event_number], link.patient_id
    FROM unnest(link_event_number, link_patient_id) AS link (event_number, patient_id);
END;
$$ LANGUAGE plpgsql;
"""
REMOVE = "DROP FUNCTION IF EXISTS audit_append(timestamptz[], bigint[], text[], text[], bigint[], text[], text[], text[], text[], text[], int[], bigint[], int);"


def create_on_postgresql(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND)


def remove_on_postgresql(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(REMOVE)


class Migration(migrations.Migration):
    dependencies = [("audit", "0006_parallel_chains")]

    operations = [migrations.RunPython(create_on_postgresql, remove_on_postgresql)]
