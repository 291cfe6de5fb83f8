"""`kapstone practice_setting list | set KEY VALUE --reason "..." | reset KEY --reason "..."`.

Lists every practice setting with its cited default and the practice's own value (and any stored value no app
declares, which `reset` removes), or changes one through the same service as the settings page, so a value the
app cannot use, alone or beside another setting, is refused here too. Bad input exits with
status 2 and a message saying what to fix; the change is audited as this command.
"""

import json

from django.core.management.base import BaseCommand, CommandError

from kapstone.audit import context
from kapstone.practice import selectors, services
from kapstone.practice.registry import SettingRefused

BAD_INPUT = 2
COMMAND_NAME = "practice_setting"


def _compact(text: str) -> str:
    return " / ".join(line.strip() for line in text.splitlines() if line.strip()) or "none set"


class Command(BaseCommand):
    help = "List the practice settings, or set or reset one (with a reason); the change is audited."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="list|set|reset")
        actions.add_parser("list", help="every setting: the value in force and the cited default")
        change = actions.add_parser("set", help="the practice's own value for one setting")
        change.add_argument("key", help="e.g. dosing.stop_systolic (see `list`)")
        change.add_argument("value", help="the new value; for a list, one item a line")
        change.add_argument("--reason", required=True, help="why the practice departs from the cited default")
        reset = actions.add_parser("reset", help="back to the cited default")
        reset.add_argument("key")
        reset.add_argument("--reason", required=True, help="why the practice returns to the cited default")

    def handle(self, *args, action, **options):
        if action == "list":
            self._list()
            return
        token = context.set_current(context.for_command(COMMAND_NAME))
        try:
            if action == "set":
                services.practice_setting_change(
                    actor=None, key=options["key"], raw_value=options["value"], reason=options["reason"]
                )
            else:
                services.practice_setting_reset(actor=None, key=options["key"], reason=options["reason"])
        except SettingRefused as problem:
            raise CommandError(str(problem), returncode=BAD_INPUT) from None
        finally:
            context.reset(token)
        self.stdout.write(f"{options['key']}: {'changed' if action == 'set' else 'reset to the cited default'}.")

    def _list(self):
        overview = selectors.practice_settings_overview()
        for area in overview.areas:
            self.stdout.write(f"# {area.name}")
            for row in area.rows:
                spec, unit = row.spec, f" {row.spec.unit}" if row.spec.unit else ""
                line = f"{spec.key} = {_compact(row.in_force_text)}{unit}"
                if row.stored:
                    reason = json.dumps(row.stored.reason, ensure_ascii=False)
                    line += f"  [practice value, by {row.stored.updated_by}: {reason}; cited default "
                    line += f"{_compact(row.default_text)}{unit}]"
                else:
                    line += "  [cited default]"
                if row.problem:
                    line += f"  UNUSABLE: it {row.problem}"
                self.stdout.write(line)
        if overview.no_longer_used:
            self.stdout.write("# Settings Kapstone no longer uses (remove each with `reset KEY --reason ...`)")
            for unused in overview.no_longer_used:
                row, reason = unused.stored, json.dumps(unused.stored.reason, ensure_ascii=False)
                self.stdout.write(f"{row.key} = {unused.value_text}  [set by {row.updated_by}: {reason}]")
