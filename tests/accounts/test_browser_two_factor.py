"""Two-factor authentication in headless Chromium: an authenticator app (codes computed from
the secret shown on the page), recovery codes, passkeys (Chromium's virtual authenticator),
the policy's set-up, the step-up; axe on every page and state, and the pages by keyboard."""

import re
import time

import pytest
from playwright.sync_api import expect

from accounts.models import TwoFactorPolicy
from apikeys import secret_format
from audit.models import AuditEvent, Event
from tests.a11y import assert_accessible
from tests.accounts.two_factor_support import code_for
from tests.apikeys.test_keyboard_walkthrough import assert_focus_ring, tab_to
from tests.conftest import browser_sign_in
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def user_window(page, name: str) -> None:
    page.get_by_role("navigation", name="User window").get_by_role("link", name=name).click()


def open_two_factor(page) -> None:
    page.get_by_role("navigation", name="Main menu").get_by_role(
        "link", name="Manage Profile"
    ).click()
    user_window(page, "Two-Factor Authentication")
    expect(page.get_by_role("heading", name="Two-Factor Authentication")).to_be_visible()


def sign_out(page) -> None:
    summary = page.locator(".usermenu summary")
    if summary.count():
        summary.click()
    page.get_by_role("button", name="Sign out").first.click()
    expect(page.get_by_role("heading", name=re.compile("Sign in to"))).to_be_visible()


def second_step_code(page, label: str, code: str, button: str) -> None:
    region = page.get_by_role("region", name=label)
    region.get_by_role("textbox").fill(code)
    region.get_by_role("button", name=button).click()


def virtual_authenticator(page) -> tuple[object, str]:
    """Chromium's virtual authenticator (DevTools protocol): a platform passkey that always
    verifies the user, as a fingerprint reader would."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, added["authenticatorId"]


def test_authenticator_app_recovery_codes_and_sign_in_with_each(page, user):
    browser_sign_in(page, user.email)
    open_two_factor(page)
    expect(page.get_by_text("Two-factor authentication is off.")).to_be_visible()
    assert_accessible(page)

    # A name that is missing is asked for; then the set-up page: QR code and secret as text.
    page.get_by_role("button", name="Add authenticator app").click()
    expect(page.get_by_text("Give it a name")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Name of the authenticator app").fill("Phone")
    page.get_by_role("button", name="Add authenticator app").click()
    expect(page.get_by_role("heading", name="Add an authenticator app: Phone")).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("QR code"))).to_be_visible()
    assert_accessible(page)
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)

    # A wrong code is refused; the right one confirms the app.
    page.get_by_label("Code from your authenticator app").fill("000000")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("That code is not right")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Code from your authenticator app").fill(code_for(secret))
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("Your authenticator app “Phone” has been added.")).to_be_visible()
    expect(page.get_by_text("Two-factor authentication is on.")).to_be_visible()
    expect(page.locator("#second-factors")).to_contain_text("Phone")
    assert secret not in page.content()
    assert_accessible(page)

    # Ten recovery codes, shown this once, with a download.
    page.get_by_role("button", name="Generate new recovery codes").click()
    expect(page.get_by_role("heading", name="Your new recovery codes")).to_be_visible()
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    assert_accessible(page)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download (.txt)").click()
    text = open(download.value.path(), encoding="utf-8").read()
    assert all(code in text for code in codes)
    page.get_by_role("link", name=re.compile("I have saved them")).click()
    expect(page.locator("#codes-left")).to_contain_text("10 of 10")

    # Sign out; the password, then a code from the app (the next one: this one is spent).
    sign_out(page)
    browser_sign_in(page, user.email)
    expect(page.get_by_role("heading", name="Two-factor authentication")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main menu")).to_have_count(0)
    assert_accessible(page)
    code = code_for(secret, time.time() + 30)
    second_step_code(page, "Authenticator app", code, "Verify code")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

    # The same code again is refused.
    sign_out(page)
    browser_sign_in(page, user.email)
    second_step_code(page, "Authenticator app", code, "Verify code")
    expect(page.get_by_text("That code is not right")).to_be_visible()
    assert_accessible(page)

    # A recovery code works, once.
    second_step_code(page, "Recovery code", codes[0], "Use recovery code")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_text("You used a recovery code: 9 left.")).to_be_visible()
    sign_out(page)
    browser_sign_in(page, user.email)
    second_step_code(page, "Recovery code", codes[0], "Use recovery code")
    expect(page.get_by_text("used already")).to_be_visible()
    assert AuditEvent.objects.filter(event=Event.RECOVERY_CODE_USED).count() == 1
    assert AuditEvent.objects.filter(event=Event.SECOND_STEP_FAILED).count() == 2


def test_passkey_added_then_signs_in_alone_and_as_the_second_step(page, user, settings):
    virtual_authenticator(page)
    browser_sign_in(page, user.email)
    open_two_factor(page)
    page.get_by_label("Name of the passkey").fill("Laptop")
    page.get_by_role("button", name="Add passkey or security key").click()
    expect(
        page.get_by_role("heading", name="Add a passkey or security key: Laptop")
    ).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Create passkey").click()
    expect(page.get_by_text("Your passkey “Laptop” has been added.")).to_be_visible()
    expect(page.locator("#second-factors")).to_contain_text("Passkey")
    assert_accessible(page)

    # Sign in with the passkey alone: no email, no password.
    sign_out(page)
    assert_accessible(page)
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    passed = AuditEvent.objects.filter(event=Event.SECOND_STEP_PASSED).last()
    assert passed.details == {"method": "passkey", "purpose": "sign-in", "device": "Laptop"}

    # The password, then the passkey as the second step.
    sign_out(page)
    browser_sign_in(page, user.email)
    expect(page.get_by_role("heading", name="Two-factor authentication")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Use a passkey or security key").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

    # Step-up: an old check asks again before Generate; the passkey answers, and the key is
    # made as first asked.
    settings.REAUTH_SECONDS = -1
    page.goto("/profile/keys/generate/")
    page.get_by_label("A number of months", exact=True).check()
    page.get_by_label("Number of months", exact=True).fill("3")
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_role("heading", name="Confirm it is you")).to_be_visible()
    assert_accessible(page)
    settings.REAUTH_SECONDS = 15 * 60
    page.get_by_role("button", name="Use a passkey or security key").click()
    expect(page.get_by_text("shown in full only now")).to_be_visible()
    assert len(secret_format.pattern().findall(page.content())) == 1


def test_required_policy_set_up_by_keyboard(page, user, account):
    account.require_two_factor = TwoFactorPolicy.EVERYONE
    account.save(update_fields=["require_two_factor"])
    browser_sign_in(page, user.email)
    expect(
        page.get_by_role("heading", name="Your account requires a second factor")
    ).to_be_visible()
    assert_accessible(page)
    for url in ("/profile/", "/profile/api/", "/admin/"):
        page.goto(url)
        expect(page).to_have_url(re.compile(r"/accounts/two-factor/setup/"))
    page.goto("/accounts/two-factor/setup/")

    # By keyboard: the name, the button, then the code on the set-up page.
    tab_to(page, "Name of the authenticator app", tag="input")
    page.keyboard.type("Phone")
    tab_to(page, "Add authenticator app", tag="button")
    assert_focus_ring(page)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Add an authenticator app: Phone")).to_be_visible()
    assert_accessible(page)
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    tab_to(page, "Code from your authenticator app", tag="input")
    page.keyboard.type(code_for(secret))
    tab_to(page, "Confirm", tag="button")
    page.keyboard.press("Enter")
    expect(page.get_by_text("Now generate recovery codes")).to_be_visible()
    expect(page.get_by_role("heading", name="Two-Factor Authentication")).to_be_visible()
    page.goto("/profile/api/")
    expect(page.get_by_role("heading", name="API", exact=True)).to_be_visible()

    # The second step, by keyboard too.
    sign_out(page)
    page.goto("/accounts/signin/")
    tab_to(page, "Email", tag="input")
    page.keyboard.type(user.email)
    tab_to(page, "Password", tag="input")
    page.keyboard.type(PASSWORD)
    tab_to(page, "Sign in", tag="button")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Two-factor authentication")).to_be_visible()
    tab_to(page, "Code from your authenticator app", tag="input")
    page.keyboard.type(code_for(secret, time.time() + 30))
    tab_to(page, "Verify code", tag="button")
    assert_focus_ring(page)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def test_remove_and_the_administrators_reset(page, user, account_admin):
    from tests.conftest import give_authenticator

    give_authenticator(user, "Old phone")
    give_authenticator(account_admin, "Admin phone")
    # The administrator resets the user's factors: confirmed, then done.
    page.goto("/accounts/signin/")
    browser_sign_in(page, account_admin.email)
    from accounts.models import TOTPDevice

    admin_seed = TOTPDevice.objects.get(user=account_admin).seed()
    second_step_code(page, "Authenticator app", code_for(admin_seed), "Verify code")
    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Users").click()
    expect(page.locator("#users-table")).to_contain_text("Two-factor on")
    assert_accessible(page)
    page.get_by_role("link", name=user.get_full_name(), exact=True).click()
    expect(page.locator("#two-factor-fact")).to_contain_text("Old phone")
    page.get_by_role("link", name="Reset second factors").click()
    expect(page.get_by_role("heading", name="Reset second factors")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Reset second factors").click()
    expect(page.get_by_text("second factors have been reset")).to_be_visible()
    expect(page.locator("#two-factor-fact")).to_contain_text("Off")
    assert_accessible(page)

    # The administrator removes their own: the confirmation, then it is gone.
    open_two_factor(page)
    page.get_by_role("link", name="Remove authenticator app Admin phone").click()
    expect(page.get_by_text("This is your last second factor")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Remove").click()
    expect(page.get_by_text("Two-factor authentication is now off")).to_be_visible()
    assert_accessible(page)

    # The Django admin is for staff: an Account Administrator is refused, with the reason.
    page.goto("/admin/")
    expect(page.get_by_text("no access to the administration site")).to_be_visible()
    assert_accessible(page)
