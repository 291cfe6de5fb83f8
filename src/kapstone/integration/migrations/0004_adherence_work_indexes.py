from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("integration", "0003_window_newest_index")]

    operations = [
        migrations.AddIndex(
            model_name="integrationnote",
            index=models.Index(fields=["session", "patient"], name="integration_note_session"),
        ),
        migrations.AddIndex(
            model_name="journalentry",
            index=models.Index(fields=["patient", "created_at"], name="journal_entry_patient_time"),
        ),
    ]
