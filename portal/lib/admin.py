"""Django admin classes for the portal's staff: each sees only their own account."""

from typing import Any, TypeVar

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest

M = TypeVar("M", bound=Model)


class AccountScopedAdmin(admin.ModelAdmin[M]):
    """Staff who are not superusers see only the rows of their own account."""

    account_field = "account"

    def get_queryset(self, request: HttpRequest) -> QuerySet[M]:
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(**{self.account_field: getattr(request.user, "account_id", None)})

    def get_list_filter(self, request: HttpRequest) -> Any:
        # A filter on account would list every account's name.
        filters = super().get_list_filter(request)
        if request.user.is_superuser:
            return filters
        return [f for f in filters if f != self.account_field]


class ReadOnlyAdmin(AccountScopedAdmin[M]):
    """What the portal checks and logs is changed in the portal, never here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: M | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: M | None = None) -> bool:
        return False
