from django.core.management.base import CommandError

from accounts.models import Account


def find_account(value: str) -> Account:
    """An account by its id or its exact name."""
    account = None
    if value.isascii() and value.isdigit():
        account = Account.objects.filter(pk=int(value)).first()
    if account is None:
        matches = list(Account.objects.filter(name=value)[:2])
        if len(matches) > 1:
            raise CommandError(f"More than one account is named {value!r}: give its id.")
        account = matches[0] if matches else None
    if account is None:
        raise CommandError(f"No account has the id or name {value!r}.")
    return account
