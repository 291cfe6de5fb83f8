from django.db import models


class PracticeSetting(models.Model):
    """A practice's own value for a clinical or operational setting whose cited default lives in a data file.

    Where practices differ (dose ceilings, BP thresholds, integration windows), the data file holds the default
    and its source; a row here overrides it for this practice, with who changed it and why.
    """

    key = models.CharField(max_length=100, unique=True)
    value = models.JSONField()
    reason = models.TextField(help_text="Why the practice departs from the cited default.")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=150)

    def __str__(self) -> str:
        return f"{self.key} = {self.value!r}"
