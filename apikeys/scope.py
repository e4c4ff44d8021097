"""What a key may do: the one place that rules on a request against the key's rights.

Every record read and write asks decide() before it answers or writes. Today a key may do
whatever its owner may through the API, and an owner with API access may read and write
every domain of the account (authentication has already refused a key whose owner lacks
it). Rights per domain and keys scoped to domains, record names and types narrow this
function, and nothing else.
"""

from dataclasses import dataclass
from typing import Literal

from accounts.models import Domain
from apikeys.models import ApiKey

Operation = Literal["read", "write"]
READ: Operation = "read"
WRITE: Operation = "write"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str  # why, in words; for a refusal, the rule that is missing


def decide(
    key: ApiKey,
    operation: Operation,
    domain: Domain,
    name: str | None = None,
    rtype: str | None = None,
) -> Decision:
    """May this key do `operation` on `domain` (and on the record set `name`/`rtype`)?"""
    if not key.owner.api_access:
        return Decision(False, "The key's owner has no API access.")
    return Decision(True, f"The key's owner has API access: {operation} on every domain.")
