"""Sends every queued patient message that is now due: what the Celery beat schedule does in production, for a
demo without a worker (`kapstone send_due_notifications`)."""

from django.core.management.base import BaseCommand

from kapstone.integration.tasks import send_due_notifications


class Command(BaseCommand):
    help = "Send the patient notifications that are due now."

    def handle(self, *args, **options):
        count = send_due_notifications.apply().get()
        self.stdout.write(f"{count} notification(s) were due.")
