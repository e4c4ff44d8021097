"""Every users-administration URL and action against every kind of visitor.

Anonymous visitors are sent to sign in, Users get 403, Domain Administrators get 403 on what
only Account Administrators may do, and an administrator of another account gets 404 for this
account's user ids. Wherever the answer is a refusal, nothing changed: the user, the number
of users, the activity log and the outbox are as they were.
"""

from dataclasses import dataclass, field

import pytest
from django.core import mail
from django.test import Client

from accounts.models import Role, User
from audit.models import AuditEvent
from tests.conftest import sign_in
from tests.factories import make_user


@dataclass
class Action:
    name: str
    method: str
    path: str  # {pk} is the target's id
    account_admin_only: bool
    target_fields: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)

    def url(self, pk: int) -> str:
        return self.path.format(pk=pk)


NEW_USER = {"first_name": "Nat", "last_name": "New", "email": "nat@new.example", "role": Role.USER}

ACTIONS = [
    Action("users", "get", "/accounts/users/", False),
    Action("add form", "get", "/accounts/users/add/", True),
    Action("add", "post", "/accounts/users/add/", True, data=NEW_USER),
    Action("detail", "get", "/accounts/users/{pk}/", False),
    Action("role form", "get", "/accounts/users/{pk}/role/", True),
    Action("role", "post", "/accounts/users/{pk}/role/", True, data={"role": Role.DOMAIN_ADMIN}),
    Action("deactivate confirm", "get", "/accounts/users/{pk}/deactivate/", True),
    Action("deactivate", "post", "/accounts/users/{pk}/deactivate/", True),
    Action(
        "reactivate confirm", "get", "/accounts/users/{pk}/reactivate/", True, {"is_active": False}
    ),
    Action("reactivate", "post", "/accounts/users/{pk}/reactivate/", True, {"is_active": False}),
    Action("invite again", "post", "/accounts/users/{pk}/invite/", True, {"password": "!x"}),
    Action("remove access confirm", "get", "/accounts/users/{pk}/api-access/remove/", False),
    Action("remove access", "post", "/accounts/users/{pk}/api-access/remove/", False),
    Action(
        "grant access confirm",
        "get",
        "/accounts/users/{pk}/api-access/grant/",
        False,
        {"api_access": False},
    ),
    Action(
        "grant access",
        "post",
        "/accounts/users/{pk}/api-access/grant/",
        False,
        {"api_access": False},
    ),
]
VISITORS = ["anonymous", "user", "domain_admin", "account_admin", "other_admin"]


def _snapshot(target: User) -> tuple:
    fresh = User.objects.get(pk=target.pk)
    return (
        fresh.role,
        fresh.is_active,
        fresh.api_access,
        fresh.password,
        User.objects.count(),
        AuditEvent.objects.count(),
        len(mail.outbox),
    )


def _expected(action: Action, visitor: str) -> int:
    if visitor == "anonymous":
        return 302
    if visitor == "user":
        return 403
    if visitor == "domain_admin" and action.account_admin_only:
        return 403
    if visitor == "other_admin" and "{pk}" in action.path:
        return 404
    return 200 if action.method == "get" else 302


def _refused(action: Action, visitor: str) -> bool:
    return _expected(action, visitor) in (403, 404) or visitor == "anonymous"


@pytest.mark.parametrize("visitor", VISITORS)
@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.name)
def test_matrix(action, visitor, request, account_admin, domain_admin, user, other_admin):
    target = make_user(account_admin.account, "target@acme.example", Role.USER, api_access=True)
    User.objects.filter(pk=target.pk).update(**action.target_fields)
    client = Client()
    if visitor != "anonymous":
        sign_in(client, request.getfixturevalue(visitor))
    before = _snapshot(target)

    response = getattr(client, action.method)(action.url(target.pk), action.data)

    assert response.status_code == _expected(action, visitor)
    if visitor == "anonymous":
        assert response["Location"].startswith("/accounts/signin/?next=")
    after = _snapshot(target)
    if visitor == "other_admin" and action.name == "add":
        # Their own account gains the user; this account's users are untouched.
        assert User.objects.get(email="nat@new.example").account == other_admin.account
        assert after[:4] == before[:4]
    elif action.method == "get" or _refused(action, visitor):
        assert after == before
    else:
        assert after != before
    if visitor == "other_admin" and action.name == "users":
        assert target.email not in response.content.decode()


def test_user_sees_no_users_menu_and_admins_do(account_admin, domain_admin, user):
    for person, shown in [(user, False), (domain_admin, True), (account_admin, True)]:
        text = sign_in(Client(), person).get("/").content.decode()
        assert ('href="/accounts/users/"' in text) is shown


def test_domain_admin_sees_no_account_admin_buttons(account_admin, domain_admin, user):
    c = sign_in(Client(), domain_admin)
    listing = c.get("/accounts/users/").content.decode()
    assert "Add user" not in listing
    detail = c.get(f"/accounts/users/{user.pk}/").content.decode()
    for button in ("Change role", "Deactivate", "Reactivate", "Send invitation again"):
        assert button not in detail
    assert "Remove API access" in detail


def test_unknown_id_is_404(account_admin):
    c = sign_in(Client(), account_admin)
    assert c.get("/accounts/users/999999/").status_code == 404
    assert c.post("/accounts/users/999999/api-access/remove/").status_code == 404


@pytest.mark.parametrize("path", ["/accounts/users/", "/keys/", "/accounts/domains/", "/activity/"])
@pytest.mark.parametrize(
    "query", ["per_page=-1", "per_page=-1&page=2", "per_page=100000", "page=²"]
)
def test_table_pages_keep_their_own_page_size(client_for, account_admin, path, query):
    response = client_for(account_admin).get(f"{path}?{query}")
    assert response.status_code == 200
