from django.conf import settings
from django.db import migrations, models

RISK_LEVELS = ("none", "low", "moderate", "high")


def level_from_reason(apps, schema_editor):
    """Alerts raised before the level had its own column wrote it only in the reason ("triage risk high")."""
    CriticalAlert = apps.get_model("measures", "CriticalAlert")
    for alert in CriticalAlert.objects.filter(rule="risk", level=""):
        words = alert.reason.partition("triage risk ")[2].split(".")[0].strip()
        if words in RISK_LEVELS:
            alert.level = words
            alert.save(update_fields=["level"])


class Migration(migrations.Migration):
    dependencies = [
        ("measures", "0001_initial"),
        ("patients", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="criticalalert", name="one_alert_per_assessment_rule"),
        migrations.AddField(
            model_name="criticalalert", name="level", field=models.CharField(blank=True, max_length=20)
        ),
        migrations.RunPython(level_from_reason, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="criticalalert",
            constraint=models.UniqueConstraint(
                fields=("assessment", "rule", "level"), name="one_alert_per_assessment_rule_level"
            ),
        ),
    ]
