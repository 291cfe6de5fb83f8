"""A partial index of the reconciliation counts, for the staff home's open discrepancies. Creating an index
changes no row, so the ledger's refuse-change triggers (0002, 0007, 0008) stay as they are."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("dosing", "0008_sqlite_refuses_delete_of_controlled_records")]

    operations = [
        migrations.AddIndex(
            model_name="ledgerentry",
            index=models.Index(
                condition=models.Q(("kind", "count")),
                fields=["lot", "location", "-recorded_at", "-id"],
                name="ledger_latest_count",
            ),
        ),
    ]
