"""The activity log listens: sign-ins from django.contrib.auth, the rest from accounts."""

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_save
from django.dispatch import Signal, receiver
from django.http import HttpRequest

from accounts import signals
from accounts.models import Account, User
from audit import chain
from audit.events import record
from audit.models import ChainHead, Event


@receiver(post_save, sender=Account, dispatch_uid="audit:chain_head")
def start_chain(
    sender: type[Account], instance: Account, created: bool, using: str, **kwargs: object
) -> None:
    """Each account's chain head is made with the account, so no write has to look for it.

    Here, not in accounts, because the apps depend one way (audit uses accounts).
    """
    if created:
        ChainHead.objects.using(using).bulk_create(
            [ChainHead(account_id=instance.pk, hash=chain.GENESIS)], ignore_conflicts=True
        )


@receiver(user_logged_in)
def signed_in(sender: object, request: HttpRequest, user: User, **kwargs: Any) -> None:
    record(Event.SIGNED_IN, account=user.account_id, actor=user, request=request)


@receiver(user_logged_out)
def signed_out(sender: object, request: HttpRequest, user: User | None, **kwargs: Any) -> None:
    if user is not None:
        record(Event.SIGNED_OUT, account=user.account_id, actor=user, request=request)


@receiver(user_login_failed)
def sign_in_failed(
    sender: object, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # An unknown email belongs to no account, so it has no chain to go in.
    email = str(credentials.get("username") or credentials.get("email") or "")
    user = get_user_model().objects.filter(email__iexact=email).first() if email else None
    if user is not None:
        record(Event.SIGN_IN_FAILED, account=user.account_id, target=user, request=request)


def _relay(signal: Signal, event: Event) -> None:
    def receiver(
        sender: object,
        *,
        request: HttpRequest | None = None,
        actor: User | None,
        target: User | None = None,
        domain_name: str = "",
        details: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if domain_name:
            details = {"domain": domain_name, **(details or {})}
        # Someone acted, or (an admin login refused while locked out) the user it concerns.
        concerned = actor or target
        if concerned is None:
            return
        record(
            event,
            account=concerned.account_id,
            actor=actor,
            request=request,
            target=target,
            details=details,
        )

    signal.connect(receiver, weak=False, dispatch_uid=f"audit:{event}")


for _signal, _event in [
    (signals.password_changed, Event.PASSWORD_CHANGED),
    (signals.user_created, Event.USER_CREATED),
    (signals.role_changed, Event.ROLE_CHANGED),
    (signals.user_deactivated, Event.USER_DEACTIVATED),
    (signals.user_reactivated, Event.USER_REACTIVATED),
    (signals.api_access_granted, Event.API_ACCESS_GRANTED),
    (signals.api_access_removed, Event.API_ACCESS_REMOVED),
    (signals.domain_added, Event.DOMAIN_ADDED),
    (signals.domain_removed, Event.DOMAIN_REMOVED),
    (signals.policy_changed, Event.POLICY_CHANGED),
    (signals.two_factor_enabled, Event.TWO_FACTOR_ENABLED),
    (signals.two_factor_disabled, Event.TWO_FACTOR_DISABLED),
    (signals.device_added, Event.DEVICE_ADDED),
    (signals.device_removed, Event.DEVICE_REMOVED),
    (signals.recovery_codes_generated, Event.RECOVERY_CODES_GENERATED),
    (signals.recovery_code_used, Event.RECOVERY_CODE_USED),
    (signals.second_step_passed, Event.SECOND_STEP_PASSED),
    (signals.second_step_failed, Event.SECOND_STEP_FAILED),
    (signals.second_step_locked, Event.SECOND_STEP_LOCKED),
    (signals.second_factors_reset, Event.TWO_FACTOR_RESET),
    (signals.admin_login_refused, Event.ADMIN_LOGIN_REFUSED),
]:
    _relay(_signal, _event)
