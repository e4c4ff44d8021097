"""The Django admin sees key metadata only: never the secret, its ciphertext or its hint.

Read-only: keys are made by their owners and deleted through the portal, where every change
is written to the activity log.
"""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from apikeys.models import ApiKey
from portal.lib.admin import ReadOnlyAdmin


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin[ApiKey]):
    list_display = [
        "key",
        "name",
        "owner",
        "account",
        "created",
        "expires",
        "last_used_at",
        "status_label",
    ]
    list_filter = ["account", "deleted_at"]
    search_fields = ["key", "name", "owner__email"]
    list_select_related = ["owner", "account"]
    # Shown, and none of them editable.
    fields = readonly_fields = (
        "key",
        "name",
        "account",
        "owner",
        "created",
        "expires",
        "expiry_months",
        "allowed_ips",
        "last_used_at",
        "last_used_ip",
        "recent_addresses",
        "deleted_at",
        "deleted_by_email",
        "ended_reason",
        "status_label",
    )

    @admin.display(description="status")
    def status_label(self, obj: ApiKey) -> str:
        return obj.status().label

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiKey]:
        # The ciphertext is not even loaded, so no admin code path can hand it out.
        return (
            super()
            .get_queryset(request)
            .defer("secret_encrypted", "secret_fingerprint", "secret_hint", "form_token")
        )
