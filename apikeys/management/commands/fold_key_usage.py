"""Run from cron every few minutes (two runs at once are safe): see apikeys/api/usage.py.

Adds the requests per key counted in Redis to the hourly and daily tables, exactly once,
and prunes rows past their keeping (hourly after 48 hours, daily after 90 days)."""

from typing import Any

import redis
from django.core.management.base import BaseCommand, CommandError

from apikeys.api import ratelimit, usage


class Command(BaseCommand):
    help = (
        "Fold the requests per API key counted in Redis into the usage tables (exactly "
        "once, safe to run concurrently); prune hourly rows after 48 hours, daily after 90 days."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        if ratelimit.shared_redis() is None:
            self.stdout.write(
                "No Redis (CACHE_URL): each app process writes what it counted itself; "
                "this run only prunes."
            )
        try:
            folded = usage.fold()
        except redis.exceptions.ConnectionError as e:
            # Nothing is lost: the counts wait in Redis (or a claim does) for the next run.
            raise CommandError(f"Redis unreachable ({e}): nothing folded this time.") from e
        self.stdout.write(
            f"Folded {folded.requests} request(s) of {folded.keys} key(s) "
            f"from {folded.claims} hourly count(s)."
        )
        if folded.already:
            self.stdout.write(f"{folded.already} count(s) had been folded already: deleted.")
        if folded.skipped:
            self.stdout.write(f"Skipped {folded.skipped} request(s) of keys no longer stored.")
        self.stdout.write(f"Pruned {folded.pruned} row(s) past their keeping.")
