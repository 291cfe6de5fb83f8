"""The outcomes report's stored snapshots: each report (its filters, for one kind of reader) built once per version of
the data it reads, so that a page view reads it instead of recomputing it. No row holds a patient's data: a snapshot is
the report's rendered aggregates, as the page shows them."""

from django.db import models


class ReportSnapshot(models.Model):
    """One report as its page shows it, with the fingerprint of the inputs it was built from (snapshots.py)."""

    # Which report: its filters and the reader's minimum cell size, hashed (snapshots.report_key).
    key = models.CharField(max_length=64, unique=True)
    fingerprint = models.CharField(max_length=64, blank=True)
    built_at = models.DateTimeField(null=True)
    # When time alone changes a figure (an integration window still open turns late), the snapshot is current until then.
    valid_until = models.DateTimeField(null=True)
    body_html = models.TextField(blank=True)
    # A build under way: for which fingerprint and since when, so concurrent views start one build, not one each.
    building_fingerprint = models.CharField(max_length=64, blank=True)
    building_since = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"outcomes report {self.key[:8]} built {self.built_at}"


class InputChange(models.Model):
    """One committed change to a row the report reads, recorded after the commit (snapshots.py). Only the newest id
    matters: a snapshot built before it is out of date."""

    at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"report input change {self.pk} at {self.at}"
