from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("integration", "0002_notification_claimed_at")]

    operations = [
        migrations.AddIndex(
            model_name="integrationwindow",
            index=models.Index(fields=["-dosed_at", "-id"], name="integration_window_newest"),
        ),
    ]
