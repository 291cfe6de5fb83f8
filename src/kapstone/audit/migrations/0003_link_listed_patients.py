"""Links every patient that an existing list read names in detail["patient_ids"] to that event, as audit.record
now does when it writes one. Only new rows are written: the events and their hashes stay exactly as they were."""

import json

from django.db import migrations

BATCH_SIZE = 2000


def link_listed_patients(apps, schema_editor):
    AuditEvent = apps.get_model("audit", "AuditEvent")
    AuditEventPatient = apps.get_model("audit", "AuditEventPatient")
    # The detail is canonical JSON (no spaces), so this narrows the scan; json.loads decides.
    events = (
        AuditEvent.objects.filter(detail__contains='"patient_ids":').order_by("id").values_list("id", "detail")
    )
    links = []
    for event_id, detail in events.iterator(chunk_size=BATCH_SIZE):
        patient_ids = {int(patient_id) for patient_id in json.loads(detail).get("patient_ids", [])}
        links.extend(AuditEventPatient(event_id=event_id, patient_id=patient_id) for patient_id in sorted(patient_ids))
        if len(links) >= BATCH_SIZE:
            AuditEventPatient.objects.bulk_create(links)
            links = []
    AuditEventPatient.objects.bulk_create(links)


def unlink_listed_patients(apps, schema_editor):
    # Every link is derived from its event's detail, so going forward again rebuilds them all.
    apps.get_model("audit", "AuditEventPatient").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_event_patients")]

    operations = [migrations.RunPython(link_listed_patients, unlink_listed_patients)]
