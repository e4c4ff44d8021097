from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts.models import Account, Domain, Record, Role, User

PASSWORD = "demo-password-2026"
USERS = [
    ("admin@demo.example", "Ada", "Admin", Role.ACCOUNT_ADMIN, False),
    ("domains@demo.example", "Dom", "Keeper", Role.DOMAIN_ADMIN, True),
    ("user@demo.example", "Uma", "User", Role.USER, True),
]
DOMAINS = [
    ("example.com", "Main website"),
    ("example.net", "Mail"),
    ("demo-shop.example", "Shop"),
    ("status.example.org", "Status page"),
]
# A few record sets, in the stored shapes (TXT quoted, as Constellix keeps it), so the
# Domains page and the records API have something to show.
RECORDS: dict[str, list[tuple[str, str, int, list[dict[str, Any]]]]] = {
    "example.com": [
        ("", "A", 3600, [{"value": "192.0.2.10"}]),
        ("www", "CNAME", 3600, [{"value": "example.com."}]),
        ("", "MX", 3600, [{"value": "mail.example.net.", "level": 10}]),
        ("", "TXT", 3600, [{"value": '"v=spf1 mx -all"'}]),
    ],
    "example.net": [("mail", "A", 3600, [{"value": "192.0.2.25"}])],
}


class Command(BaseCommand):
    help = "Create the demo account, one user per role, a few domains and records (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="Run even with DEBUG off.")

    def handle(self, *args: Any, force: bool = False, **options: Any) -> None:
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo makes users with a published password: "
                "it runs only with DEBUG on, or with --force."
            )
        with transaction.atomic():
            account, _ = Account.objects.get_or_create(name="Demo Account")
            for email, first, last, role, api_access in USERS:
                if not User.objects.filter(email=email).exists():
                    User.objects.create_user(
                        email,
                        PASSWORD,
                        account=account,
                        first_name=first,
                        last_name=last,
                        role=role,
                        api_access=api_access,
                    )
            for name, note in DOMAINS:
                domain, _ = Domain.objects.get_or_create(
                    account=account, name=name, defaults={"note": note}
                )
                for record_name, rtype, ttl, values in RECORDS.get(name, []):
                    defaults = {"ttl": ttl, "values": values}
                    Record.objects.get_or_create(
                        domain=domain, name=record_name, type=rtype, defaults=defaults
                    )
        self.stdout.write(f"Demo sign-ins (password for each: {PASSWORD}):")
        for email, _first, _last, role, api_access in USERS:
            access = "with API access" if api_access else "without API access"
            self.stdout.write(f"  {email:24} {role.label}, {access}")
