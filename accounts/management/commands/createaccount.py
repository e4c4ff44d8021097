import getpass
from pathlib import Path
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email
from django.db import transaction

from accounts.models import Account, Role, User


class Command(BaseCommand):
    help = "Create a customer account and its first Account Administrator."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--admin-email", required=True)
        parser.add_argument("--first-name", default="")
        parser.add_argument("--last-name", default="")
        parser.add_argument(
            "--password-file",
            type=Path,
            help="Read the password from this file instead of asking for it.",
        )

    def handle(self, name: str, admin_email: str, **options: Any) -> None:
        name = name.strip()
        limit = Account._meta.get_field("name").max_length
        if not name or (limit is not None and len(name) > limit):
            raise CommandError("The account name must be 1 to 100 characters.")
        try:
            validate_email(admin_email)
        except ValidationError as e:
            raise CommandError(f"{admin_email!r} is not an email address.") from e
        if User.objects.filter(email__iexact=admin_email).exists():
            raise CommandError(f"{admin_email} is already a user.")
        password = self._password(options["password_file"])
        user = User(
            email=admin_email.lower(),
            first_name=options["first_name"],
            last_name=options["last_name"],
        )
        try:
            validate_password(password, user)
        except ValidationError as e:
            raise CommandError(" ".join(e.messages)) from e
        with transaction.atomic():
            account = Account.objects.create(name=name)
            User.objects.create_user(
                admin_email,
                password,
                account=account,
                role=Role.ACCOUNT_ADMIN,
                first_name=options["first_name"],
                last_name=options["last_name"],
            )
        self.stdout.write(
            self.style.SUCCESS(f"Created {name} with Account Administrator {admin_email}.")
        )

    def _password(self, path: Path | None) -> str:
        if path is not None:
            try:
                return path.read_text().rstrip("\n")
            except OSError as e:
                raise CommandError(f"Cannot read {path}: {e.strerror}") from e
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Password (again): "):
            raise CommandError("The passwords do not match.")
        return first
