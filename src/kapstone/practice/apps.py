from django.apps import AppConfig
from django.core import checks as django_checks

from kapstone import bibliography


class PracticeConfig(AppConfig):
    name = "kapstone.practice"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from kapstone.practice import checks  # noqa: F401  (registers the practice-settings check)

        # Every data file's citations name ids in sources.yaml, or start-up stops (kapstone.E010).
        django_checks.register(bibliography.citation_check)
