import datetime

from django.conf import settings
from django.db import models

from kapstone.patients.models import Patient


class Room(models.Model):
    name = models.CharField(max_length=80, unique=True)
    capacity = models.PositiveSmallIntegerField(help_text="Patients the room seats for a dosing session.")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Group(models.Model):
    """A cohort of 3-4 patients who go through one course together, with their facilitators."""

    class Status(models.TextChoices):
        FORMING = "forming", "Forming"
        ACTIVE = "active", "In progress"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    name = models.CharField(max_length=100)
    template_id = models.CharField(max_length=60)
    template_version = models.PositiveIntegerField()
    min_size = models.PositiveSmallIntegerField()
    max_size = models.PositiveSmallIntegerField()
    start_date = models.DateField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.FORMING)
    facilitators = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="facilitated_groups", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-start_date", "name"]
        # The group list's order (newest first): its first page is read from the index, not by sorting every
        # group the practice ever ran (issue 19).
        indexes = [models.Index(fields=["-start_date", "name", "id"], name="group_newest_first")]

    def __str__(self) -> str:
        return self.name


class Enrolment(models.Model):
    class Status(models.TextChoices):
        ENROLLED = "enrolled", "Enrolled"
        WAITLISTED = "waitlisted", "On the waitlist"
        WITHDRAWN = "withdrawn", "Withdrawn"
        COMPLETED = "completed", "Completed"

    group = models.ForeignKey(Group, on_delete=models.PROTECT, related_name="enrolments")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="enrolments")
    status = models.CharField(max_length=12, choices=Status.choices)
    waitlist_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["group", "patient"], name="one_enrolment_per_group")]

    def __str__(self) -> str:
        return f"{self.patient} in {self.group} ({self.status})"


class GroupSessionQuerySet(models.QuerySet["GroupSession"]):
    def course_end(self) -> datetime.datetime | None:
        """When the course ends: the end of its last session before follow-up. Follow-up sessions come after the
        course, and the plan's end-of-course and 1-, 3- and 6-month occasions are counted from this end."""
        course = self.exclude(kind=GroupSession.Kind.FOLLOW_UP)
        end: datetime.datetime | None = (course if course.exists() else self).aggregate(end=models.Max("ends_at"))[
            "end"
        ]
        return end


class GroupSession(models.Model):
    class Kind(models.TextChoices):
        PREPARATION = "preparation", "Preparation"
        DOSING = "dosing", "Dosing"
        INTEGRATION = "integration", "Integration"
        FOLLOW_UP = "follow_up", "Follow-up"

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="sessions")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    number = models.PositiveSmallIntegerField(help_text="1-based within its kind.")
    starts_at = models.DateTimeField(db_index=True)
    ends_at = models.DateTimeField()
    room = models.ForeignKey(Room, null=True, blank=True, on_delete=models.PROTECT)
    facilitators = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="facilitated_sessions", blank=True)
    follows_dosing = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="integration_sessions"
    )
    # Held by video (program.telehealth). A dosing session never is: the patient is observed in the room.
    is_remote = models.BooleanField("Held by video", default=False)
    video_url = models.URLField("Video link for this session", max_length=300, blank=True)

    class DosingSetting(models.TextChoices):
        # Dore 2019: doses given in the office, or taken at home under supervision.
        OFFICE = "office", "In the office"
        SUPERVISED_HOME = "supervised_home", "Supervised at home"

    # Where the session's doses are taken: one of the practice's sites (program.sites) and the setting. Report
    # filters and research-export columns (program.sites module docstring).
    site = models.CharField(max_length=80, blank=True)
    dosing_setting = models.CharField(max_length=16, choices=DosingSetting.choices, default=DosingSetting.OFFICE)
    # How many times the session has moved: the iCalendar SEQUENCE, so a subscribed calendar replaces the event.
    calendar_sequence = models.PositiveIntegerField(default=0)

    objects = GroupSessionQuerySet.as_manager()

    class Meta:
        ordering = ["starts_at"]
        constraints = [
            models.UniqueConstraint(fields=["group", "kind", "number"], name="one_session_per_number"),
            models.CheckConstraint(
                condition=~(models.Q(kind="dosing") & models.Q(is_remote=True)), name="dosing_never_remote"
            ),
        ]
        # The integration sessions following a dosing session, earliest first, from the index alone: the adherence
        # page asks twice for each window (integration.selectors.windows_with_work), and each time read the dosing
        # session's followers of every kind and sorted them.
        indexes = [
            models.Index(
                fields=["follows_dosing", "starts_at"],
                condition=models.Q(kind="integration"),
                name="integration_sessions_followed",
            )
        ]

    def __str__(self) -> str:
        return f"{self.group}: {self.get_kind_display()} {self.number}"

    def calendar_sequence_raise(self) -> None:
        """Tells calendar clients the event changed. Counted in the database, so a caller's stale copy of the
        session cannot lose a change."""
        GroupSession.objects.filter(pk=self.pk).update(calendar_sequence=models.F("calendar_sequence") + 1)
        self.refresh_from_db(fields=["calendar_sequence"])


class Unavailability(models.Model):
    """Dates a patient or facilitator cannot attend, fed to the scheduler."""

    patient = models.ForeignKey(Patient, null=True, blank=True, on_delete=models.CASCADE, related_name="away")
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="away"
    )
    first_day = models.DateField()
    last_day = models.DateField()
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(patient__isnull=False) ^ models.Q(staff__isnull=False), name="away_whose"
            ),
            models.CheckConstraint(condition=models.Q(last_day__gte=models.F("first_day")), name="away_in_order"),
        ]

    def __str__(self) -> str:
        return f"away {self.first_day}..{self.last_day}"

    # Operational, not clinical: no one plans a course, or an absence, further ahead than this, so a later date is a
    # typing slip (9999-12-31) that would otherwise block the planner's every search to the end of time.
    YEARS_AHEAD = 2

    @classmethod
    def latest_day(cls, today: datetime.date) -> datetime.date:
        """The furthest day away dates may reach: the same day YEARS_AHEAD years on (28 February for a 29th)."""
        try:
            return today.replace(year=today.year + cls.YEARS_AHEAD)
        except ValueError:
            return today.replace(year=today.year + cls.YEARS_AHEAD, day=28)

    @classmethod
    def dates_problem(cls, first_day: datetime.date, last_day: datetime.date, today: datetime.date) -> str:
        """What is wrong with these away dates, in words for the form; "" when they can be recorded."""
        if last_day < first_day:
            return "The last day comes before the first."
        latest = cls.latest_day(today)
        if last_day > latest:
            return (
                f"Away dates can be recorded up to {cls.YEARS_AHEAD} years ahead, to {latest.day} {latest:%B %Y}; "
                "record a later absence nearer the time."
            )
        return ""


class CalendarFeed(models.Model):
    """A person's secret calendar-subscription link. Calendar apps fetch it without signing in (they cannot do
    two-factor), so only a hash of the token is stored; deleting the row revokes the link."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"calendar feed of {self.user}"
