"""`kapstone send_reminders`: sends the questionnaire invitations and reminders owed now (for cron)."""

from django.core.management.base import BaseCommand

from kapstone.audit import context
from kapstone.measures.tasks import send_due_reminders


class Command(BaseCommand):
    help = "Send the questionnaire invitations and reminders that are due now."

    def handle(self, *args, **options):
        token = context.set_current(context.for_command("send_reminders"))
        try:
            sent = send_due_reminders.apply().get()
        finally:
            context.reset(token)
        self.stdout.write(f"{sent} questionnaire invitation(s) or reminder(s) sent.")
