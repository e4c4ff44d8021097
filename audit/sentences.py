"""The Activity Log's Details column in words, from each entry's event and details.

The CSV keeps the machine-readable cells (details as JSON, covered by the hash chain); the
page reads them out: "Expires 1 May 2027", "Access removed by Dom Keeper". Every event has
a sentence here (a test holds the two lists together), so a new event cannot reach the page
as raw JSON.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from django.utils import formats, timezone

from accounts.models import Account, Role, User
from audit.models import AuditEvent, Event

NOTHING = "—"


@dataclass(frozen=True)
class Entry:
    """What a sentence may use: the entry, and the page's people by id (full names)."""

    event: AuditEvent
    names: Mapping[int, str]

    @property
    def details(self) -> dict[str, object]:
        return self.event.details or {}

    @property
    def actor(self) -> str:
        actor_id = self.event.actor_id
        if actor_id is not None and actor_id in self.names:
            return self.names[actor_id]
        return self.event.actor_email or "the system"

    def text(self, name: str) -> str:
        return str(self.details.get(name, ""))


def _day(value: object) -> str:
    """An ISO 8601 moment from details as a day in the viewer's time zone, or "never"."""
    if not isinstance(value, str) or value == "never":
        return "never"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return formats.date_format(timezone.localtime(moment), "DATE_FORMAT")


_ROLES = dict(Role.choices)
_EVENTS = dict(Event.choices)
# The policy's own words and choices, from Account's fields.
_POLICY_LABELS = {field.name: str(field.verbose_name) for field in Account._meta.fields}
_POLICY_CHOICES = {field.name: dict(field.choices or []) for field in Account._meta.fields}


def _role(value: object) -> str:
    return _ROLES.get(str(value), str(value))


def _moment(value: object) -> str:
    """An ISO 8601 moment from details as a date and time in the viewer's time zone."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")


def _addresses(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(str(entry) for entry in value) if value else "anywhere"
    return str(value)


def _generated(entry: Entry) -> str:
    expires = entry.details.get("expires")
    text = "Never Expires" if expires in (None, "never") else f"Expires {_day(expires)}"
    allowed = entry.details.get("allowed_ips")
    return f"{text}; allowed from {_addresses(allowed)}" if allowed else text


def _name(value: object) -> str:
    return f"“{value}”" if value else "none"


def _edited(entry: Entry) -> str:
    old, new = entry.details.get("old"), entry.details.get("new")
    if not isinstance(old, dict) or not isinstance(new, dict):
        return "Key edited"
    changes = []
    if "name" in new:
        before, after = (_name(side.get("name")) for side in (old, new))
        changes.append(f"Name: {before} → {after}")
    if "allowed_ips" in new:
        before, after = _addresses(old.get("allowed_ips")), _addresses(new.get("allowed_ips"))
        changes.append(f"Allowed addresses: {before} → {after}")
    return "; ".join(changes) or "Key edited"


def _rolled(entry: Entry) -> str:
    new_key = entry.text("new_key")[:8]
    return f"Rolled to {new_key}…, old key expires {_moment(entry.details.get('old_expires'))}"


def _retired(entry: Entry) -> str:
    days = entry.details.get("days")
    return f"Retired: unused for {days} days" if days else "Retired: unused"


def _expiry_changed(entry: Entry) -> str:
    old, new = _day(entry.details.get("old")), _day(entry.details.get("new"))
    return f"Expiry brought forward from {old} to {new}"


def _user_created(entry: Entry) -> str:
    access = "with" if entry.details.get("api_access") else "without"
    return f"Added as {_role(entry.details.get('role'))}, {access} API access, by {entry.actor}"


def _policy_changed(entry: Entry) -> str:
    old, new = entry.details.get("old"), entry.details.get("new")
    if not isinstance(old, dict) or not isinstance(new, dict):
        return "Key policy changed"
    changes = [
        f"{_policy_label(name)}: {_policy_value(name, old.get(name))} → "
        f"{_policy_value(name, new.get(name))}"
        for name in new
        if old.get(name) != new.get(name)
    ]
    return "; ".join(changes) or "Key policy saved unchanged"


def _policy_label(name: str) -> str:
    # A field since removed reads as its name.
    return _POLICY_LABELS.get(name, name.replace("_", " ")).capitalize()


def _policy_value(name: str, value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) if value else "none"
    return str(_POLICY_CHOICES.get(name, {}).get(value, value))


def _exported(entry: Entry) -> str:
    filters = entry.details.get("filters")
    if not isinstance(filters, dict) or not filters:
        return "Everything exported"
    chosen = ", ".join(f"{name} {_filter_value(name, value)}" for name, value in filters.items())
    return f"Exported {chosen}"


def _filter_value(name: str, value: object) -> str:
    if name == "event":
        return _EVENTS.get(str(value), str(value))
    return str(value)


def _by(verb: str) -> Callable[[Entry], str]:
    return lambda entry: f"{verb} by {entry.actor}"


def _nothing(entry: Entry) -> str:
    return NOTHING


def _factor(entry: Entry) -> str:
    """A second factor as the log names it: its kind and the name its owner gave it."""
    return f"{entry.text('kind') or 'Second factor'} “{entry.text('name')}”"


METHODS = {"totp": "Authenticator app", "recovery": "Recovery code", "passkey": "Passkey"}
PURPOSES = {"sign-in": "at sign-in", "confirm": "to confirm an action"}


def _second_step(entry: Entry, *, passed: bool) -> str:
    method = METHODS.get(entry.text("method"), entry.text("method"))
    purpose = PURPOSES.get(entry.text("purpose"), entry.text("purpose"))
    device = f" “{entry.text('device')}”" if passed and entry.text("device") else ""
    return f"{method}{device} {purpose}" if passed else f"{method} refused {purpose}"


def _reset(entry: Entry) -> str:
    devices = entry.details.get("devices")
    named = [
        f"{d.get('kind', '')} “{d.get('name', '')}”"
        for d in (devices if isinstance(devices, list) else [])
        if isinstance(d, dict)
    ]
    codes = entry.details.get("recovery_codes_left") or 0
    removed = ", ".join(named) or "no device"
    return f"Reset by {entry.actor}: removed {removed} and {codes} recovery codes"


def _through_key(entry: Entry) -> str:
    """Which key made an API change, and whose it is."""
    short = entry.event.api_key[:8]
    return f"by key “{entry.text('key_name')}” ({short}…) of {entry.actor}"


def _record_created(entry: Entry) -> str:
    return f"Created {entry.text('after')}, {_through_key(entry)}"


def _record_updated(entry: Entry) -> str:
    return f"Changed {entry.text('before')} → {entry.text('after')}, {_through_key(entry)}"


def _record_deleted(entry: Entry) -> str:
    return f"Deleted {entry.text('before')}, {_through_key(entry)}"


def _claims(value: object) -> str:
    if not isinstance(value, dict) or not value:
        return "no claims"
    return ", ".join(f"{name}={claim}" for name, claim in value.items())


def _trust(entry: Entry) -> str:
    return f"“{entry.text('trust')}”"


def _trust_edited(entry: Entry) -> str:
    changed = entry.details.get("changed")
    fields = ", ".join(str(name) for name in changed) if isinstance(changed, list) else ""
    return f"{_trust(entry)} edited by {entry.actor}: {fields or 'no change'}"


REFUSALS = {
    "not staff": "Not staff",
    "no second factor": "No verified second factor",
    "locked": "Sign-in locked after failed attempts",
}


SENTENCES: dict[str, Callable[[Entry], str]] = {
    Event.KEY_GENERATED: _generated,
    Event.KEY_VIEWED: _by("Secret key viewed"),
    Event.KEY_DELETED: _by("Deleted"),
    Event.KEY_EXPIRY_CHANGED: _expiry_changed,
    Event.KEY_EDITED: _edited,
    Event.KEY_ROLLED: _rolled,
    Event.KEY_ADDRESS_REFUSED: lambda entry: (
        f"Refused from {entry.text('address')}: not an allowed address"
    ),
    Event.KEY_RETIRED: _retired,
    Event.KEY_REVOKED: lambda entry: (
        f"Reported leaked from {entry.text('reporter_address')}: revoked"
    ),
    Event.API_ACCESS_GRANTED: _by("Access granted"),
    Event.API_ACCESS_REMOVED: _by("Access removed"),
    Event.SIGNED_IN: _nothing,
    Event.SIGN_IN_FAILED: lambda entry: "Wrong password",
    Event.SIGNED_OUT: _nothing,
    Event.PASSWORD_CHANGED: lambda entry: (
        "Chosen through the invitation" if entry.text("via") == "invitation" else NOTHING
    ),
    Event.USER_CREATED: _user_created,
    Event.ROLE_CHANGED: lambda entry: (
        f"From {_role(entry.details.get('from'))} to {_role(entry.details.get('to'))}"
    ),
    Event.USER_DEACTIVATED: _by("Deactivated"),
    Event.USER_REACTIVATED: _by("Reactivated"),
    Event.DOMAIN_ADDED: lambda entry: f"{entry.text('domain')} added",
    Event.DOMAIN_REMOVED: lambda entry: f"{entry.text('domain')} removed",
    Event.POLICY_CHANGED: _policy_changed,
    Event.LOG_EXPORTED: _exported,
    Event.TWO_FACTOR_ENABLED: lambda entry: f"On, with {_factor(entry)}",
    Event.TWO_FACTOR_DISABLED: lambda entry: (
        f"Off: {_factor(entry)} was the last; recovery codes void"
    ),
    Event.DEVICE_ADDED: lambda entry: f"{_factor(entry)} added",
    Event.DEVICE_REMOVED: lambda entry: f"{_factor(entry)} removed",
    Event.RECOVERY_CODES_GENERATED: lambda entry: (
        f"{entry.text('count')} new codes; the earlier ones no longer work"
    ),
    Event.RECOVERY_CODE_USED: lambda entry: f"{entry.text('left')} left",
    Event.SECOND_STEP_PASSED: lambda entry: _second_step(entry, passed=True),
    Event.SECOND_STEP_FAILED: lambda entry: _second_step(entry, passed=False),
    Event.SECOND_STEP_LOCKED: lambda entry: (
        f"Locked after {entry.text('failures')} failures; the user was emailed to change "
        "their password"
    ),
    Event.TWO_FACTOR_RESET: _reset,
    Event.CI_TRUST_CREATED: lambda entry: f"{_trust(entry)} added by {entry.actor}",
    Event.CI_TRUST_EDITED: _trust_edited,
    Event.CI_TRUST_DELETED: lambda entry: f"{_trust(entry)} deleted by {entry.actor}",
    Event.CI_KEY_MINTED: lambda entry: (
        f"From CI {_trust(entry)}, expires {_moment(entry.details.get('expires'))}; "
        f"claims {_claims(entry.details.get('claims'))}"
    ),
    Event.CI_EXCHANGE_REFUSED: lambda entry: (
        f"{_trust(entry)} refused a token ({entry.text('reason')}); "
        f"claims {_claims(entry.details.get('claims'))}"
    ),
    Event.ADMIN_LOGIN_REFUSED: lambda entry: REFUSALS.get(
        entry.text("reason"), entry.text("reason")
    ),
    Event.RECORD_CREATED: _record_created,
    Event.RECORD_UPDATED: _record_updated,
    Event.RECORD_DELETED: _record_deleted,
}


def describe(event: AuditEvent, names: Mapping[int, str]) -> str:
    """The entry's Details as a sentence a person reads."""
    # Event members are their values, so the stored text finds its entry (or None).
    sentence = SENTENCES.get(event.event)
    if sentence is None:
        return event.details_text if event.details else NOTHING
    return sentence(Entry(event, names))


@dataclass(frozen=True)
class Readable:
    """An entry as the page shows it."""

    entry: AuditEvent
    sentence: str
    key_name: str  # as it was when the entry was written (apikeys puts it in the details)

    @property
    def short_key(self) -> str:
        return self.entry.api_key[:8]


def readable(entries: list[AuditEvent]) -> list[Readable]:
    """The page's entries with their sentences, naming people in one query for the page."""
    ids = {entry.actor_id for entry in entries if entry.actor_id is not None}
    names = {user.pk: user.get_full_name() for user in User.objects.filter(pk__in=ids)}
    return [
        Readable(entry, describe(entry, names), str((entry.details or {}).get("key_name", "")))
        for entry in entries
    ]
