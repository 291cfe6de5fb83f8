from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("program", "0007_group_newest_first_index")]

    operations = [
        migrations.AddIndex(
            model_name="groupsession",
            index=models.Index(
                condition=models.Q(("kind", "integration")),
                fields=["follows_dosing", "starts_at"],
                name="integration_sessions_followed",
            ),
        ),
    ]
