"""`kapstone run_sweeps`: runs the Celery beat schedule's sweeps in a loop, for `make run` and any deployment
without a worker.

Without REDIS_URL, Celery runs tasks eagerly and eagerly run tasks ignore their eta, so a reminder's own task
runs at once, finds it not yet due and returns. These sweeps are what later sends it. They are the beat tasks
themselves (settings.CELERY_BEAT_SCHEDULE), run in-process; each is idempotent, so running them more often than
beat would, or alongside a real beat, never sends anything twice.
"""

import logging
import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from kapstone.audit import context
from kapstone.celery import app

logger = logging.getLogger(__name__)

BAD_INPUT = 2
SWEEP_FAILED = 1
SHORTEST_INTERVAL_SECONDS = 1
LONGEST_INTERVAL_SECONDS = 3600


class Command(BaseCommand):
    help = "Run the scheduled sweeps (due reminders, questionnaire invitations, overdue tasks) every N seconds."

    def add_arguments(self, parser):
        parser.add_argument(
            "--every",
            type=int,
            default=60,
            metavar="SECONDS",
            help=f"seconds between rounds ({SHORTEST_INTERVAL_SECONDS}-{LONGEST_INTERVAL_SECONDS}, default 60)",
        )
        parser.add_argument("--once", action="store_true", help="run every sweep once and exit")

    def handle(self, *args, every: int, once: bool, **options):
        if not SHORTEST_INTERVAL_SECONDS <= every <= LONGEST_INTERVAL_SECONDS:
            raise CommandError(
                f"--every must be between {SHORTEST_INTERVAL_SECONDS} and {LONGEST_INTERVAL_SECONDS} seconds, "
                f"not {every}.",
                returncode=BAD_INPUT,
            )
        sweeps = self.scheduled_sweeps()
        if once:
            if not self.run_round(sweeps):
                raise CommandError("a sweep failed; see the messages above.", returncode=SWEEP_FAILED)
            return
        stop = threading.Event()
        # Ctrl-C or the `make run` trap ends the loop between rounds, so a message being sent is never cut off
        # halfway (that would leave it marked 'sending' and never delivered).
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signal_number, lambda *_: stop.set())
        self.stdout.write(f"Running {len(sweeps)} sweeps every {every} s: {', '.join(name for name, _ in sweeps)}.")
        while not stop.is_set():
            self.run_round(sweeps)
            stop.wait(every)

    def scheduled_sweeps(self) -> list[tuple[str, object]]:
        app.loader.import_default_modules()
        sweeps = []
        for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
            if entry["task"] not in app.tasks:
                raise CommandError(f"the beat schedule names {entry['task']!r}, which is not a known task.")
            sweeps.append((name, app.tasks[entry["task"]]))
        return sweeps

    def run_round(self, sweeps) -> bool:
        """Runs each sweep once, printing one line for each that did something; a failure does not stop the others."""
        all_ran = True
        token = context.set_current(context.for_command("run_sweeps"))
        try:
            for name, task in sweeps:
                try:
                    handled = task.apply(throw=True).get()
                except Exception as error:
                    logger.exception("sweep %s failed", name)
                    self.stderr.write(f"{self.now()} {name} failed: {error}")
                    all_ran = False
                    continue
                if handled:
                    self.stdout.write(f"{self.now()} {name}: {handled} handled")
        finally:
            context.reset(token)
        return all_ran

    @staticmethod
    def now() -> str:
        return timezone.localtime().strftime("%H:%M:%S")
