"""Every page each role can reach, at the screen sizes people use (issue 22).

For each role the test signs in, follows every link of the portal's own pages it finds
(menus and main content; one page per URL shape, as every key's Edit page is laid out
alike), and adds the states the walkthroughs produce: keys shown after View, a rolled key,
second factors, a filtered Activity Log and inventory. On each page, at 1280x800, 1024x768
and 390x844, it fails when the document is wider than the window, or when a visible link,
button or form control of the main content lies outside the window (so it could only be
reached by scrolling sideways); axe runs on each, and a screenshot of each lands in
test-artifacts/layout/ for a person to look at.
"""

import re
import time
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone

from accounts.models import Account, Domain, Record, Role, User
from apikeys.actions import mint_ci_key, roll_key
from apikeys.models import ApiKey, CiProvider, CiTrust, DailyUsage
from tests.a11y import assert_accessible
from tests.conftest import ARTIFACTS, give_authenticator, verified_sign_in
from tests.factories import make_key, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORTS = {"1280x800": (1280, 800), "1024x768": (1024, 768), "390x844": (390, 844)}
SHOTS = ARTIFACTS / "layout"
# Links that leave the pages (or sign out) are not followed.
NOT_FOLLOWED = re.compile(r"^/(api/|admin/|accounts/signout|accounts/webauthn/|activity/export)")
# One page per URL shape: a key's or user's id stands for all of them.
SHAPES = (
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<key>"),
    (re.compile(r"/\d+/"), "/<id>/"),
)
MAX_PAGES = 40

# What lies outside the window: the document's width, and each visible control of the main
# content whose box is not inside the window (one scrolled away inside a table counts too).
OUTSIDE = """() => {
  const width = document.documentElement.clientWidth;
  const found = [];
  if (document.documentElement.scrollWidth > width) {
    found.push(`document is ${document.documentElement.scrollWidth}px wide in ${width}px`);
  }
  const controls = "a[href], button, input:not([type=hidden]), select, textarea, summary";
  for (const el of document.querySelectorAll(`main :is(${controls}), nav :is(${controls})`)) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    // Not rendered: hidden, or inside a closed <details> (whose content keeps a box).
    if (!el.checkVisibility({visibilityProperty: true, contentVisibilityAuto: true})) continue;
    if (el.closest(".visually-hidden")) continue;
    // Inside the window, and inside every box that clips it (a table scrolled sideways).
    let clipped = false;
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      if (getComputedStyle(up).overflowX === "visible") continue;
      const frame = up.getBoundingClientRect();
      if (box.left < frame.left - 1 || box.right > frame.right + 1) clipped = true;
    }
    if (clipped || box.left < -1 || box.right > width + 1) {
      const name = el.innerText || el.value || el.getAttribute("aria-label") || el.name || "";
      const where = `${Math.round(box.left)}..${Math.round(box.right)}px`;
      found.push(`${el.tagName.toLowerCase()} "${name.trim().slice(0, 40)}" spans ${where}`);
    }
  }
  return found;
}"""


def shape(path: str) -> str:
    for pattern, stand_in in SHAPES:
        path = pattern.sub(stand_in, path)
    return path


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "dashboard"


class Walk:
    """One role's visit: each page at each size, checked, with its screenshot."""

    def __init__(self, page, role: str) -> None:
        self.page = page
        self.role = role
        self.problems: list[str] = []
        self.seen: set[str] = set()
        # Anything a page asks for that is refused or missing (a favicon, a stylesheet).
        page.on(
            "response",
            lambda response: self.problems.append(f"{response.url} answered {response.status}")
            if response.status >= 400
            else None,
        )

    def check(self, label: str) -> None:
        for size, (width, height) in VIEWPORTS.items():
            self.page.set_viewport_size({"width": width, "height": height})
            outside = self.page.evaluate(OUTSIDE)
            name = f"{self.role}-{slug(label)}-{size}.png"
            self.page.screenshot(path=str(SHOTS / name), full_page=True)
            self.problems += [f"{label} at {size}: {what}" for what in outside]
            try:
                assert_accessible(self.page)
            except AssertionError as e:
                self.problems.append(f"{label} at {size}: {e}")

    def visit(self, url: str, label: str | None = None) -> None:
        response = self.page.goto(url)
        assert response is not None and response.status < 400, f"{url}: {response}"
        self.check(label or url)

    def crawl(self, start: str = "/") -> None:
        queue = [start]
        while queue and len(self.seen) < MAX_PAGES:
            url = queue.pop(0)
            if shape(urlsplit(url).path) in self.seen:
                continue
            self.seen.add(shape(urlsplit(url).path))
            self.visit(url, shape(urlsplit(url).path))
            for href in self.page.eval_on_selector_all(
                "main a[href], nav a[href], header a[href]", "els => els.map(a => a.href)"
            ):
                parts = urlsplit(href)
                if parts.netloc != urlsplit(self.page.url).netloc or NOT_FOLLOWED.match(parts.path):
                    continue
                if shape(parts.path) not in self.seen:
                    queue.append(parts.path)


@pytest.fixture
def crowded(db) -> dict[str, User]:
    """An account in the states the walkthroughs leave it: keys with names, addresses and
    use, a rolled key, second factors, users with and without API access, domains."""
    account = Account.objects.create(name="Northwind Traders International Holdings")
    admin = make_user(account, "ada.lovelace-administrator@northwind.example", Role.ACCOUNT_ADMIN)
    admin.api_access = True
    admin.save(update_fields=["api_access"])
    dom = make_user(account, "dominic.admin@northwind.example", Role.DOMAIN_ADMIN, api_access=True)
    uma = make_user(account, "uma.user@northwind.example", Role.USER, api_access=True)
    nora = make_user(account, "nora.noaccess@northwind.example", Role.USER)
    zones = [
        Domain.objects.create(account=account, name=f"zone-{i}.northwind-traders.example")
        for i in range(3)
    ]
    # Records as certbot and octoDNS leave them: long names and long values.
    Record.objects.create(
        domain=zones[0],
        type="TXT",
        name="_acme-challenge.www",
        ttl=60,
        values=[{"value": '"gfj9Xq-y6ZpBcZrRm3kQ_y0W9uVNw0v5qYc1rE7hB2s-a-long-acme-token"'}],
    )
    Record.objects.create(
        domain=zones[0],
        type="MX",
        name="",
        ttl=3600,
        values=[{"value": "mx1.mail-relay.northwind-traders.example.", "level": 10}],
    )
    Record.objects.create(
        domain=zones[1], type="AAAA", name="www", ttl=300, values=[{"value": "2001:db8::1234"}]
    )
    give_authenticator(admin)
    now = timezone.now()
    used, _ = make_key(
        uma,
        now + timedelta(days=300),
        name="certbot on web-1.northwind-traders.example",
        allowed_ips=["203.0.113.0/24", "2001:db8:ffff:ffff:ffff:ffff:ffff:0/112"],
    )
    ApiKey.objects.filter(pk=used.pk).update(
        last_used_at=now - timedelta(hours=3),
        last_used_ip="2001:db8:ffff:ffff:ffff:ffff:ffff:1234",
        recent_addresses=[],
    )
    today = now.date()
    DailyUsage.objects.bulk_create(
        DailyUsage(api_key=used, day=today - timedelta(days=i), answered=40 * i, address=i % 3)
        for i in range(0, 30, 2)
    )
    make_key(uma, None, name="")
    old, _ = make_key(dom, now + timedelta(days=30), name="terraform")
    roll_key(old, timedelta(hours=23), actor=dom, grace_label="23 hours")
    make_key(admin, now + timedelta(days=90), name="monitoring")
    # Trusted CI with a long repository condition, and a key it minted (listed, not shown).
    trust = CiTrust.objects.create(
        account=account,
        name="certbot renewals for the northwind-traders web fleet",
        provider=CiProvider.GITHUB,
        issuer="https://token.actions.githubusercontent.com",
        audience="https://portal.northwind-traders.example/northwind-traders-international",
        conditions={"repository_id": "123456", "ref": "refs/heads/main-release-branch-2026"},
        acts_for=uma,
        rules=[{"domain": "*", "level": "read_write", "names": ["_acme-challenge"]}],
        lifetime_minutes=15,
    )
    claims = {
        "iss": trust.issuer,
        "jti": "job-1",
        "repository_id": "123456",
        "repository": "northwind-traders/web-fleet-certificates",
        "ref": "refs/heads/main-release-branch-2026",
    }
    mint_ci_key(trust, claims)
    return {"account_admin": admin, "domain_admin": dom, "user": uma, "no_access": nora}


def signed_in(page, user: User, live_server) -> None:
    """The session a person has just after signing in (past the second step), as a cookie."""
    client = verified_sign_in(Client(), user) if user.totpdevice_set.exists() else Client()
    if not user.totpdevice_set.exists():
        client.force_login(user)
        session = client.session
        session["reauth_at"] = int(time.time())
        session.save()
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


@pytest.fixture
def shots() -> Iterator[None]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield


@pytest.mark.parametrize("role", ["account_admin", "domain_admin", "user", "no_access"])
def test_every_page_fits_the_window_at_each_size(page, live_server, crowded, shots, role):
    walk = Walk(page, role)
    signed_in(page, crowded[role], live_server)
    walk.crawl("/")
    # The states the walkthroughs produce beyond plain links: secrets shown after View,
    # a filtered Activity Log and inventory.
    page.goto("/profile/")
    view = page.get_by_role("button", name="View API Keys")
    if view.count():
        view.click()
        walk.check("profile with secrets shown")
    if crowded[role].is_account_admin:
        walk.visit("/activity/?period=&event=key.rolled&user=&key=", "activity filtered")
    if crowded[role].is_domain_admin:
        walk.visit("/keys/?status=live&expiring=on", "inventory filtered")
        page.goto("/keys/")
        page.locator('input[form="bulk-delete"][name="keys"]').first.check()
        page.get_by_role("button", name="Delete selected").click()
        walk.check("inventory delete confirmation")
    assert len(walk.seen) > 3, walk.seen
    assert not walk.problems, "\n".join(walk.problems)


def test_signed_out_pages_fit_the_window_at_each_size(page, live_server, shots):
    walk = Walk(page, "signed-out")
    walk.visit("/accounts/signin/", "sign in")
    walk.visit("/accounts/password/reset/", "password reset")
    assert not walk.problems, "\n".join(walk.problems)
