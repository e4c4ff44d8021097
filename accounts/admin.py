"""The Django admin, for the portal's staff.

Staff who are not superusers see only their own account. Everything the portal records in
the activity log (users created, roles, API access, deactivation, domains, the key policy)
is read-only here: those changes are made in the portal, where they are checked and logged.
"""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpRequest

from accounts.models import Account, Domain, User
from portal.lib.admin import AccountScopedAdmin, ReadOnlyAdmin


@admin.register(Account)
class AccountAdmin(AccountScopedAdmin[Account]):
    account_field = "pk"
    list_display = ["name", "created", "max_key_months", "allow_never_expires"]
    search_fields = ["name"]
    fields = ["name", "created", "max_key_months", "allow_never_expires", "remind_admins"]
    readonly_fields = ["created", "max_key_months", "allow_never_expires", "remind_admins"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # manage.py createaccount makes the account and its first administrator

    def has_delete_permission(self, request: HttpRequest, obj: Account | None = None) -> bool:
        return False


@admin.register(User)
class UserAdmin(DjangoUserAdmin[User], AccountScopedAdmin[User]):  # type: ignore[type-var]  # stub wants an AbstractUser
    ordering = ["email"]
    list_display = [
        "email",
        "first_name",
        "last_name",
        "account",
        "role",
        "api_access",
        "is_active",
    ]
    list_filter = ["account", "role", "api_access", "is_active", "is_staff"]
    search_fields = ["email", "first_name", "last_name"]
    list_select_related = ["account"]
    fieldsets = [
        (None, {"fields": ["account", "email", "password"]}),
        ("Profile", {"fields": ["first_name", "last_name", "phone", "time_zone"]}),
        (
            "Access (change role, API access and activity on the portal's Users page)",
            {"fields": ["role", "api_access", "is_active", "is_staff", "is_superuser"]},
        ),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    readonly_fields = [
        "account",
        "email",
        "role",
        "api_access",
        "is_active",
        "last_login",
        "date_joined",
    ]

    def get_readonly_fields(
        self, request: HttpRequest, obj: User | None = None
    ) -> list[str] | tuple[str, ...]:
        if request.user.is_superuser:
            return self.readonly_fields
        return [*self.readonly_fields, "is_superuser", "is_staff"]

    def has_change_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        # Only superusers change users here. Staff who could set a password in the admin
        # could take over anyone in their account, unchecked and unlogged.
        return request.user.is_superuser and super().has_change_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # users are invited from the portal, where it is logged

    def has_delete_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        return False  # deactivate instead: the log and the keys keep their owner


@admin.register(Domain)
class DomainAdmin(ReadOnlyAdmin[Domain]):
    list_display = ["name", "account", "status"]
    list_filter = ["account", "status"]
    search_fields = ["name"]
