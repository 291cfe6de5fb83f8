"""The work other apps schedule for a course's patients (questionnaires, creativity tasks), counted for the group's
page. Each app that schedules such work registers its model here from its ready(), so the program, which sits
below those apps, never imports them."""

from typing import Any

from django.db.models import Count, Model, Q

# Any: each model brings its own Status choices, which no common base class declares.
_MODELS: dict[str, Any] = {}


def register(name: str, model: type[Model]) -> None:
    """`model` has `group`, `patient` and `status` fields, and a `Status.COMPLETED` choice."""
    _MODELS[name] = model


def counts(*, group, patients) -> dict[str, dict[str, int]]:
    """{name: {"scheduled": n, "completed": n}} over the group's work for `patients` (a queryset)."""
    return {
        name: model.objects.filter(group=group, patient__in=patients).aggregate(
            scheduled=Count("id"), completed=Count("id", filter=Q(status=model.Status.COMPLETED))
        )
        for name, model in _MODELS.items()
    }
