"""Trusted CI: a job's ID token traded for a short-lived key (POST /api/oidc/exchange).

A trust (apikeys.models.CiTrust) names an issuer, the audience its jobs request, conditions
on the token's claims, the user the keys act for, the keys' rules and their lifetime. The
exchange (admit()) finds the trusts for the token's issuer and audience, checks the token
(apikeys/oidc.py), accepts each `jti` once and matches the conditions; then
apikeys.actions.mint_ci_key() mints the key and logs it in one transaction.

Which claims may stand alone: only stable numeric IDs (a repository or project can be
renamed, and someone else can then take the old name). GitHub trusts need `repository_id`
or `repository_owner_id`; GitLab trusts `project_id`; other issuers `sub`.

Rules, the minted key's scope (apikeys/scope.py), checked by scope.clean_rules as a key's are:

    [{"domain": 12 | "*", "level": "read" | "read_write",
      "names": ["_acme-challenge", ...], "types": ["TXT", ...]}]

`names` and `types` are optional (absent: any). actions.mint_ci_key() gives them to the key
it makes, and the key never reaches beyond its user's rights.

Replays: a `jti` is accepted once, with cache.add() for the token's remaining lifetime. The
production cache is Redis, shared by every app server, so one add is atomic everywhere; with
the cache down the exchange refuses (fail closed) rather than risk a replay.
"""

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils.html import format_html
from django.views.decorators.debug import sensitive_variables

from accounts.models import Account, Domain, User
from apikeys import oidc, scope
from apikeys.api import ratelimit
from apikeys.models import ApiKey, CiProvider, CiTrust, KeySource
from audit.events import Entry, record_many
from audit.models import Event

log = logging.getLogger(__name__)

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
GITLAB_ISSUER = "https://gitlab.com"
MAX_LIFETIME_MINUTES = 60
# The claims each provider's trusts may require; the ID claims, one of which must be set.
CONDITIONS = {
    CiProvider.GITHUB: [
        "repository_id",
        "repository_owner_id",
        "ref",
        "environment",
        "job_workflow_ref",
    ],
    CiProvider.GITLAB: ["project_id", "ref"],
    CiProvider.OTHER: ["sub", "ref"],
}
STABLE_IDS = {
    CiProvider.GITHUB: ["repository_id", "repository_owner_id"],
    CiProvider.GITLAB: ["project_id"],
    CiProvider.OTHER: ["sub"],
}
NUMERIC = {"repository_id", "repository_owner_id", "project_id"}
# The claims an activity-log entry keeps (never the token): who ran what, where.
LOGGED_CLAIMS = [
    "iss", "aud", "sub", "jti", "iat", "exp", "repository", "repository_id",
    "repository_owner", "repository_owner_id", "ref", "environment", "job_workflow_ref",
    "workflow", "run_id", "actor", "project_id", "project_path", "namespace_id",
    "pipeline_id", "user_login",
]  # fmt: skip
WINDOW_SECONDS = 60


def condition_problem(provider: str, conditions: dict[str, str]) -> str:
    """What is wrong with a trust's conditions, in words; "" when nothing is."""
    allowed = CONDITIONS.get(CiProvider(provider), [])
    for name in conditions:
        if name not in allowed:
            return f"{name} is not a condition for this provider."
    for name in NUMERIC & conditions.keys():
        if not conditions[name].isascii() or not conditions[name].isdigit():
            return f"{name} must be the number, not a name (names can change hands)."
    ids = STABLE_IDS[CiProvider(provider)]
    if not any(conditions.get(name) for name in ids):
        return f"Set {' or '.join(ids)}: only a stable ID may stand alone, never a name."
    return ""


def clean_rules(value: Any, account: Account) -> list[scope.Rule]:
    """The trust's rules, checked as a key's are (scope.clean_rules); a trust needs at least
    one, since a key with none would have all its user's rights."""
    if not isinstance(value, list) or not value:
        raise scope.BadRule("Give a list of at least one rule.")
    domains = Domain.objects.filter(account=account).values_list("pk", flat=True)
    return scope.clean_rules(value, domains)


def rules_text(rules: list[dict[str, Any]]) -> str:
    return json.dumps(rules, indent=1)


def logged_claims(claims: dict[str, Any]) -> dict[str, str]:
    return {name: str(claims[name])[:200] for name in LOGGED_CLAIMS if name in claims}


def claims_text(claims: dict[str, Any]) -> str:
    """The claims a person reads to know which job minted a key."""
    shown = [name for name in LOGGED_CLAIMS if name not in ("iss", "aud", "jti", "iat", "exp")]
    return ", ".join(f"{name}={claims[name]}" for name in shown if name in claims)


def from_ci(key: ApiKey) -> str:
    """The inventory's note on a key minted for CI ("" for any other key)."""
    if key.source != KeySource.CI:
        return ""
    return format_html(
        '<br><span class="from-ci">from CI</span> <span class="muted">{}</span>',
        claims_text(key.ci_claims),
    )


def log_trust(
    event: Event, trust: CiTrust, actor: User, request: HttpRequest, **details: Any
) -> None:
    record_many(
        trust.account_id,
        [
            {
                "event": event,
                "actor": actor,
                "request": request,
                "target": trust.acts_for,
                "details": {"trust": trust.name, "trust_id": trust.pk, **details},
            }
        ],
    )


# --- The exchange ---


@dataclass(frozen=True)
class Admitted:
    """A token that passed every check, and the trust it met: a key may be minted."""

    trust: CiTrust
    claims: dict[str, Any]


class ExchangeRefused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code)
        self.status, self.code, self.message = status, code, message


def rate_allows(name: str, limit: int) -> tuple[bool, int]:
    """Count one exchange against `name`'s minute; whether it may go ahead, and the seconds
    until the minute ends. With the cache down it goes ahead: the replay check that follows
    fails closed anyway."""
    window, reset = ratelimit.fixed_window(time.time(), WINDOW_SECONDS)
    counter = f"oidc-exchange:{name}:{window}"
    try:
        cache.add(counter, 0, timeout=WINDOW_SECONDS + 5)
        return cache.incr(counter) <= limit, reset
    except Exception as e:  # noqa: BLE001
        log.warning("exchange rate limit not counted: cache unavailable (%s)", type(e).__name__)
        return True, reset


def _refuse(
    trusts: list[CiTrust], code: str, message: str, claims: dict[str, Any], request: HttpRequest
) -> ExchangeRefused:
    """The refusal, logged on each trust's account (or, with no trust, in the server log)."""
    shown = logged_claims(claims)
    log.info("oidc: exchange refused (%s) for %s", code, shown)
    entries: dict[int, list[Entry]] = {}
    for trust in trusts:
        entries.setdefault(trust.account_id, []).append(
            {
                "event": Event.CI_EXCHANGE_REFUSED,
                "request": request,
                "target": trust.acts_for,
                "details": {
                    "trust": trust.name,
                    "trust_id": trust.pk,
                    "reason": code,
                    "claims": shown,
                },
            }
        )
    for account_id, batch in entries.items():
        record_many(account_id, batch)
    return ExchangeRefused(401, code, message)


def _matches(trust: CiTrust, claims: dict[str, Any]) -> str:
    """The first condition the claims miss ("" when they meet them all)."""
    conditions: dict[str, str] = trust.conditions
    for name, value in conditions.items():
        if str(claims.get(name, "")) != value:
            return name
    return ""


def _accept_once(claims: dict[str, Any]) -> bool:
    remaining = int(claims["exp"]) - int(time.time()) + oidc.LEEWAY_SECONDS
    return bool(
        cache.add(f"oidc-jti:{claims['iss']}:{claims['jti']}", 1, timeout=max(remaining, 1))
    )


@sensitive_variables("token")
def admit(token: str, request: HttpRequest) -> Admitted:
    """The trust this token meets, with its verified claims; ExchangeRefused saying which
    check failed. The key itself is minted by apikeys.actions.mint_ci_key()."""
    unverified = oidc.unverified_claims(token)
    issuer = str(unverified.get("iss", ""))
    audiences = unverified.get("aud")
    audiences = audiences if isinstance(audiences, list) else [audiences]
    by_issuer = list(CiTrust.objects.filter(issuer=issuer).select_related("acts_for"))
    if not by_issuer:
        raise _refuse([], "wrong_issuer", "No trust accepts this token's issuer.", unverified,
                      request)  # fmt: skip
    trusts = [trust for trust in by_issuer if trust.audience in audiences]
    if not trusts:
        raise _refuse([], "wrong_audience", "No trust accepts this token's audience.",
                      unverified, request)  # fmt: skip
    try:
        claims = oidc.verify(token, issuer=issuer, audience=trusts[0].audience)
    except oidc.Refused as e:
        raise _refuse(trusts, e.code, e.message, unverified, request) from None
    trust = next((trust for trust in trusts if not _matches(trust, claims)), None)
    if trust is None:
        missed = _matches(trusts[0], claims)
        raise _refuse(trusts, "claims_mismatch",
                      f"The token's claims do not meet the trust's conditions ({missed}).",
                      claims, request)  # fmt: skip
    if not (trust.acts_for.api_access and trust.acts_for.is_active):
        raise _refuse([trust], "no_api_access", "The trust's user has no API access.", claims,
                      request)  # fmt: skip
    # Counted before the token is spent, so a job told to wait can retry with the same token.
    allowed, reset = rate_allows(f"trust:{trust.pk}", settings.OIDC_TRUST_RATE_LIMIT)
    if not allowed:
        raise ExchangeRefused(
            429, "rate_limited", f"Too many exchanges for this trust: try again in {reset}s."
        )
    try:
        first_use = _accept_once(claims)
    except Exception as e:  # noqa: BLE001
        log.warning("oidc: replay check unavailable (%s)", type(e).__name__)
        raise ExchangeRefused(
            503, "unavailable", "The replay check is unavailable: try again shortly."
        ) from None
    if not first_use:
        raise _refuse(trusts, "replayed", "This token (its jti) was used already.", claims,
                      request)  # fmt: skip
    return Admitted(trust, claims)
