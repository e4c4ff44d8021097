"""Run from cron once a day (any number of runs is safe): see apikeys/reminders.py.

Warns the owners of idle keys and retires those whose time has come (where the account's key
policy retires unused keys), then sends expiry reminders."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apikeys import reminders


class Command(BaseCommand):
    help = (
        "Email owners of API keys that expire in 30, 7 or 1 days, or today (each once); "
        "warn of, then retire, keys unused for as long as the key policy allows."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        # Idle keys first: a key retired now needs no expiry reminder too.
        idle = reminders.retire_idle()
        outcome = reminders.send_due()
        for failure in [*outcome.failures, *idle.failures]:
            self.stderr.write(failure)
        self.stdout.write(f"Sent {outcome.sent} expiry reminder(s).")
        self.stdout.write(
            f"Warned the owners of {idle.warned} idle key(s); retired {idle.retired} key(s)."
        )
        failures = len(outcome.failures) + len(idle.failures)
        if failures:
            raise CommandError(
                f"{failures} email(s) could not be sent; the next run retries reminders "
                "and warnings."
            )
