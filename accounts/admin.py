from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts.models import Account, Domain, User


class AccountScopedAdmin(admin.ModelAdmin):
    """Staff who are not superusers see and change only their own account's rows."""

    account_field = "account"

    def get_queryset(self, request):  # type: ignore[no-untyped-def]
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(**{self.account_field: request.user.account_id})


@admin.register(Account)
class AccountAdmin(AccountScopedAdmin):
    account_field = "pk"
    list_display = ["name", "created", "max_key_months", "allow_never_expires"]
    search_fields = ["name"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin, AccountScopedAdmin):
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
        ("Access", {"fields": ["role", "api_access", "is_active", "is_staff", "is_superuser"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (
            None,
            {
                "classes": ["wide"],
                "fields": [
                    "account",
                    "email",
                    "first_name",
                    "last_name",
                    "role",
                    "password1",
                    "password2",
                ],
            },
        ),
    ]
    readonly_fields = ["last_login", "date_joined"]

    def get_readonly_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        # Only superusers may move a user to another account or hand out superuser.
        if request.user.is_superuser:
            return self.readonly_fields
        return [*self.readonly_fields, "account", "is_superuser", "is_staff"]


@admin.register(Domain)
class DomainAdmin(AccountScopedAdmin):
    list_display = ["name", "account", "status"]
    list_filter = ["account", "status"]
    search_fields = ["name"]
