import django.db.models.deletion
from django.db import migrations, models

PAGING_LEVELS = {"high": 3}


def fill_queue_fields(apps, schema_editor):
    """Alerts raised before the one queue are suicide-risk alerts that paged: C-SSRS high ranks high, the rest
    urgent. Of a patient's open alerts the oldest takes the join key new answers join; the others keep a key of
    their own (they stay open side by side until acknowledged, as they were raised). Each gets its occurrence."""
    CriticalAlert = apps.get_model("measures", "CriticalAlert")
    AlertOccurrence = apps.get_model("measures", "AlertOccurrence")
    holders = set()
    for alert in CriticalAlert.objects.order_by("raised_at", "pk"):
        alert.priority = PAGING_LEVELS.get(alert.level, 2)
        key = f"patient:{alert.patient_id}:suicide_risk"
        if alert.acknowledged_at is None and key not in holders:
            holders.add(key)
            alert.join_key = key
        else:
            alert.join_key = f"before-one-queue:{alert.pk}"
        alert.save(update_fields=["priority", "join_key"])
        AlertOccurrence.objects.create(
            alert=alert,
            source_key=f"assessment:{alert.assessment_id}:{alert.rule}:{alert.level}",
            assessment_id=alert.assessment_id,
            rule=alert.rule,
            level=alert.level,
            priority=alert.priority,
            reason=alert.reason,
            at=alert.raised_at,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("measures", "0002_alert_level"),
        ("patients", "0001_initial"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="criticalalert", name="one_alert_per_assessment_rule_level"),
        migrations.AlterModelOptions(name="criticalalert", options={"ordering": ["-priority", "raised_at", "id"]}),
        migrations.AddField(
            model_name="criticalalert", name="kind", field=models.CharField(default="suicide_risk", max_length=40)
        ),
        migrations.AddField(
            model_name="criticalalert",
            name="priority",
            field=models.PositiveSmallIntegerField(choices=[(1, "review"), (2, "urgent"), (3, "high")], default=2),
        ),
        migrations.AddField(
            model_name="criticalalert", name="object_type", field=models.CharField(blank=True, max_length=40)
        ),
        migrations.AddField(
            model_name="criticalalert", name="object_id", field=models.CharField(blank=True, max_length=40)
        ),
        migrations.AddField(
            model_name="criticalalert",
            name="join_key",
            field=models.CharField(default="", max_length=120),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="criticalalert",
            name="assessment",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="alerts",
                to="measures.assessment",
            ),
        ),
        migrations.AlterField(
            model_name="criticalalert",
            name="patient",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="critical_alerts",
                to="patients.patient",
            ),
        ),
        migrations.AlterField(
            model_name="criticalalert",
            name="rule",
            field=models.CharField(
                help_text="The flag id, `risk` for a triage level, or the event kind.", max_length=60
            ),
        ),
        migrations.CreateModel(
            name="AlertOccurrence",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("source_key", models.CharField(max_length=160, unique=True)),
                ("rule", models.CharField(max_length=60)),
                ("level", models.CharField(blank=True, max_length=20)),
                ("priority", models.PositiveSmallIntegerField(choices=[(1, "review"), (2, "urgent"), (3, "high")])),
                ("reason", models.CharField(max_length=300)),
                ("at", models.DateTimeField()),
                (
                    "alert",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="occurrences",
                        to="measures.criticalalert",
                    ),
                ),
                (
                    "assessment",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="measures.assessment",
                    ),
                ),
            ],
            options={"ordering": ["at", "id"]},
        ),
        migrations.RunPython(fill_queue_fields, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="criticalalert",
            index=models.Index(fields=["acknowledged_at", "priority", "raised_at"], name="alert_queue_order"),
        ),
        migrations.AddConstraint(
            model_name="criticalalert",
            constraint=models.UniqueConstraint(
                condition=models.Q(acknowledged_at__isnull=True), fields=("join_key",), name="one_open_alert_per_key"
            ),
        ),
    ]
