import django_tables2 as tables

from audit.models import AuditEvent


class ActivityTable(tables.Table):
    """The Activity Log page: newest first, in chain order, never re-sorted by a click.

    The table gives the columns and the pagination; audit/_table.html writes the cells straight
    from the entries (in words: audit/sentences.py), because django-tables2's per-cell
    rendering (a signature inspection per cell) cost about 40 ms for a page of 50 rows.
    """

    time = tables.Column("Time")
    event = tables.Column("Event")
    actor_email = tables.Column("User")
    target_email = tables.Column("Target user")
    api_key = tables.Column("API key")
    ip = tables.Column("Source IP")
    details = tables.Column("Details")

    class Meta:
        model = AuditEvent
        fields = ["time", "event", "actor_email", "target_email", "api_key", "ip", "details"]
        orderable = False
        attrs = {"class": "table"}
        empty_text = "No entries match these filters."
