"""`kapstone practice_setting list | set KEY VALUE --reason "..." [--by USERNAME] | reset KEY --reason "..." [--by
USERNAME] | propose KEY VALUE --reason "..." --by ADMIN | approve ID --by PRESCRIBER [--note "..."] | decline ID
--by PRESCRIBER --note "..."`.

Lists every practice setting with its cited default, the practice's own value and its hard bounds (and any stored
value no app declares, which `reset` removes, and the proposals waiting for a prescriber), or changes one through
the same service as the settings page, so a value the app cannot use, alone or beside another setting, or past a
hard bound, is refused here too. A clinical setting is set or reset only `--by` a prescriber (or the medical
director), who answers for it in the audit trail; an admin proposes. Bad input exits with status 2 and a message
saying what to fix; a change without --by is audited as this command.
"""

import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from kapstone.accounts.models import User
from kapstone.audit import context
from kapstone.practice import selectors, services
from kapstone.practice.registry import SettingRefused

BAD_INPUT = 2
COMMAND_NAME = "practice_setting"


def _staff(username: str) -> User:
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None or not user.is_staff_member:
        raise SettingRefused(f"--by {username}: there is no active staff login {username!r}.")
    return user


def _compact(text: str) -> str:
    return " / ".join(line.strip() for line in text.splitlines() if line.strip()) or "none set"


class Command(BaseCommand):
    help = "List the practice settings, or set or reset one (with a reason); the change is audited."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="list|set|reset|propose|approve|decline")
        actions.add_parser("list", help="every setting: the value in force, the cited default and hard bounds")
        by_help = "the prescriber who answers for a clinical change (needed for clinical settings)"
        change = actions.add_parser("set", help="the practice's own value for one setting")
        change.add_argument("key", help="e.g. dosing.stop_systolic (see `list`)")
        change.add_argument("value", help="the new value; for a list, one item a line")
        change.add_argument("--reason", required=True, help="why the practice departs from the cited default")
        change.add_argument("--by", metavar="USERNAME", help=by_help)
        reset = actions.add_parser("reset", help="back to the cited default")
        reset.add_argument("key")
        reset.add_argument("--reason", required=True, help="why the practice returns to the cited default")
        reset.add_argument("--by", metavar="USERNAME", help=by_help)
        propose = actions.add_parser("propose", help="an admin's proposed change to a clinical setting")
        propose.add_argument("key")
        propose.add_argument("value")
        propose.add_argument("--reason", required=True)
        propose.add_argument("--by", metavar="USERNAME", required=True, help="the admin who proposes it")
        for name, note_required in (("approve", False), ("decline", True)):
            decide = actions.add_parser(name, help=f"{name} a proposal (see `list` for ids)")
            decide.add_argument("proposal_id", type=int, metavar="ID")
            decide.add_argument("--by", metavar="USERNAME", required=True, help="the prescriber who decides")
            decide.add_argument("--note", required=note_required, default="")

    def handle(self, *args, action, **options):
        if action == "list":
            self._list()
            return
        token = context.set_current(context.for_command(COMMAND_NAME))
        try:
            done = self._run(action, options)
        except SettingRefused as problem:
            raise CommandError(str(problem), returncode=BAD_INPUT) from None
        finally:
            context.reset(token)
        self.stdout.write(done)

    def _run(self, action: str, options: dict) -> str:
        actor = _staff(options["by"]) if options.get("by") else None
        if action == "set":
            services.practice_setting_change(
                actor=actor, key=options["key"], raw_value=options["value"], reason=options["reason"]
            )
            return f"{options['key']}: changed."
        if action == "reset":
            services.practice_setting_reset(actor=actor, key=options["key"], reason=options["reason"])
            return f"{options['key']}: reset to the cited default."
        # --by is required from here on: a proposal and a decision name the person who made them.
        if action == "propose":
            proposal = services.setting_change_propose(
                actor=_staff(options["by"]),
                key=options["key"],
                action="change",
                raw_value=options["value"],
                reason=options["reason"],
            )
            return f"{options['key']}: proposed as proposal {proposal.pk}; a prescriber approves or declines it."
        decide = services.setting_proposal_approve if action == "approve" else services.setting_proposal_decline
        proposal = decide(actor=_staff(options["by"]), proposal_id=options["proposal_id"], note=options["note"])
        return f"Proposal {proposal.pk} ({proposal.key}): {proposal.status}."

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
                if row.past_bound:
                    line += f"  PAST A HARD BOUND (the apps use {_compact(row.in_force_text)}): it {row.past_bound}"
                if spec.has_hard_bounds:
                    line += f"  hard bounds: {spec.describe_hard_bounds()}"
                line += "" if spec.clinical else "  (operational)"
                self.stdout.write(line)
        if overview.pending:
            self.stdout.write("# Proposed changes waiting for a prescriber (`approve ID --by ...`)")
            for item in overview.pending:
                proposal, reason = item.proposal, json.dumps(item.proposal.reason, ensure_ascii=False)
                self.stdout.write(
                    f"{proposal.pk}: {proposal.key} -> {_compact(item.value_text)}  "
                    f"[proposed by {proposal.proposed_by.get_username()}: {reason}]"
                )
        if overview.no_longer_used:
            self.stdout.write("# Settings Kapstone no longer uses (remove each with `reset KEY --reason ...`)")
            for unused in overview.no_longer_used:
                row, reason = unused.stored, json.dumps(unused.stored.reason, ensure_ascii=False)
                self.stdout.write(f"{row.key} = {unused.value_text}  [set by {row.updated_by}: {reason}]")
