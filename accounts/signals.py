"""What happens to users, access, domains and policy, announced for the activity log.

accounts depends on nothing else in the portal, so it does not write the log itself: it
sends these signals inside the transaction that makes the change, and audit records them.
Each is sent with keyword arguments request, actor (the User acting, or None when nobody
is signed in) and, as they apply, target (the User concerned), domain_name and details (a
dict, which never holds a secret: a device is named by its kind and name).
"""

from django.dispatch import Signal

password_changed = Signal()
user_created = Signal()
role_changed = Signal()
user_deactivated = Signal()
user_reactivated = Signal()
api_access_granted = Signal()
api_access_removed = Signal()
domain_added = Signal()
domain_removed = Signal()
policy_changed = Signal()

# Second factors.
two_factor_enabled = Signal()  # the user's first authenticator app or passkey
two_factor_disabled = Signal()  # their last one removed (their recovery codes go with it)
device_added = Signal()
device_removed = Signal()
recovery_codes_generated = Signal()
recovery_code_used = Signal()
second_step_passed = Signal()  # a second factor checked: at sign-in, or to confirm an action
second_step_failed = Signal()
# Failed as often as the limit allows: the second step is locked, and the user emailed.
second_step_locked = Signal()
second_factors_reset = Signal()  # by an Account Administrator: the emergency path
admin_login_refused = Signal()
