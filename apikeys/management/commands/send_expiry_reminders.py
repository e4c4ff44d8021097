"""Run from cron once a day (any number of runs is safe): see apikeys/reminders.py."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apikeys import reminders


class Command(BaseCommand):
    help = "Email owners of API keys that expire in 30, 7 or 1 days, or today (each once)."

    def handle(self, *args: Any, **options: Any) -> None:
        outcome = reminders.send_due()
        for failure in outcome.failures:
            self.stderr.write(failure)
        self.stdout.write(f"Sent {outcome.sent} expiry reminder(s).")
        if outcome.failures:
            raise CommandError(
                f"{len(outcome.failures)} reminder(s) could not be sent; the next run retries."
            )
