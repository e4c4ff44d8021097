from django.contrib import admin
from django.http import HttpRequest

from audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Entries to read, never to add, change or delete: the log is append-only."""

    list_display = [
        "seq",
        "account",
        "time",
        "event",
        "actor_email",
        "target_email",
        "api_key",
        "ip",
    ]
    list_filter = ["event"]
    list_select_related = ["account"]
    search_fields = ["actor_email", "target_email", "api_key"]
    # Counting a million rows for the paginator's "of N" costs more than the page.
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
