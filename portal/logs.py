"""Structured logging: one key=value line per record, with the request id, and no secrets."""

import json
import logging
import threading
from typing import Any

from django.http import HttpRequest
from django.views.debug import SafeExceptionReporterFilter

_local = threading.local()


def set_request_id(value: str | None) -> None:
    _local.request_id = value


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = getattr(_local, "request_id", None) or "-"
        return True


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "msg": record.getMessage(),
        }
        fields.update(getattr(record, "fields", {}))
        line = " ".join(f"{k}={_quote(v)}" for k, v in fields.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _quote(value: object) -> str:
    text = str(value)
    # JSON string escaping also escapes newlines and control characters, so a request path
    # cannot forge a second log line.
    if not text or not text.isprintable() or any(c in text for c in ' ="\\'):
        return json.dumps(text)
    return text


class SecretSafeExceptionReporterFilter(SafeExceptionReporterFilter):
    """Error reports include request headers: hide every header that can carry a secret."""

    def get_safe_request_meta(self, request: HttpRequest) -> dict[str, Any]:
        meta = super().get_safe_request_meta(request)
        for name in list(meta):
            upper = name.upper()
            if (
                upper == "HTTP_AUTHORIZATION"
                or upper.startswith("HTTP_X_CNS")
                or upper == "HTTP_COOKIE"
            ):
                meta[name] = self.cleansed_substitute
        return meta
