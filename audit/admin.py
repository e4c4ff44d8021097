from django.contrib import admin

from audit.models import AuditEvent
from portal.lib.admin import ReadOnlyAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin[AuditEvent]):
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
    list_filter = ["account", "event"]
    list_select_related = ["account"]
    search_fields = ["actor_email", "target_email", "api_key"]
    # Counting a million rows for the paginator's "of N" costs more than the page.
    show_full_result_count = False
