"""What happens to users, access, domains and policy, announced for the activity log.

accounts depends on nothing else in the portal, so it does not write the log itself: it
sends these signals inside the transaction that makes the change, and audit records them.
Each is sent with keyword arguments request, actor (the User acting) and, as they apply,
target (the User concerned), domain_name and details (a dict).
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
