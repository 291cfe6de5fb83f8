"""`kapstone verify_ledger`: recomputes every controlled-substance balance from the log's entries and exits with
status 1 on any difference (an entry's recorded balance, a count's discrepancy, or a stored balance that the
entries do not add up to), naming each."""

from django.core.management.base import BaseCommand, CommandError

from kapstone.dosing import selectors
from kapstone.dosing.models import LedgerEntry, LotBalance

DIFFERENCE_FOUND = 1


class Command(BaseCommand):
    help = "Recompute every controlled-substance balance from the entries; exit 1 on any difference."

    def handle(self, *args, **options):
        differences = selectors.ledger_differences()
        for difference in differences:
            self.stderr.write(f"{difference.lot} at {difference.location}: {difference.message}")
        if differences:
            raise CommandError(f"{len(differences)} difference(s) in the ledger.", returncode=DIFFERENCE_FOUND)
        self.stdout.write(
            f"Ledger verified: {LedgerEntry.objects.count()} entries add up to the {LotBalance.objects.count()} "
            "balances."
        )
