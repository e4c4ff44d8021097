"""The seed article's walkthrough with the keyboard only: no clicks, focus moved by Tab."""

import re

import pytest
from playwright.sync_api import expect

from apikeys import secret_format
from apikeys.models import ApiKey
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The focused element's accessible name, as far as this portal's markup needs it: aria-label,
# else its <label>, else its text.
FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const label = e.labels && e.labels.length ? e.labels[0].textContent : "";
  const name = e.getAttribute("aria-label") || label || e.textContent || "";
  return {tag: e.tagName.toLowerCase(), name: name.trim().replace(/\\s+/g, " ")};
}"""

RING = """() => {
  const e = document.activeElement, style = getComputedStyle(e);
  return {visible: e.matches(":focus-visible"), style: style.outlineStyle,
          width: parseFloat(style.outlineWidth)};
}"""


def tab_to(page, name: str, *, tag: str | None = None, back: bool = False, limit: int = 60) -> None:
    """Press Tab (or Shift+Tab) until the element called `name` has focus; fail, not loop."""
    passed = []
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        focused = page.evaluate(FOCUSED)
        if focused and focused["name"] == name and tag in (None, focused["tag"]):
            return
        passed.append(focused and focused["name"])
    pytest.fail(f"{name!r} not reached in {limit} presses; focus went through {passed}")


def assert_focus_ring(page) -> None:
    ring = page.evaluate(RING)
    assert ring["visible"] and ring["style"] != "none" and ring["width"] >= 2, ring


def shown_secrets(page) -> list[str]:
    return secret_format.pattern().findall(page.content())


def generate(page, *, months: str | None) -> None:
    tab_to(page, "Generate API Keys", tag="a")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Add API Key")).to_be_visible()
    tab_to(page, "A number of months", tag="input")
    if months is None:
        page.keyboard.press("ArrowDown")  # arrows move the choice within a radio group
        expect(page.get_by_label("Never Expires")).to_be_checked()
    else:
        page.keyboard.press("Space")
        tab_to(page, "Number of months", tag="input")
        page.keyboard.press("Control+A")
        page.keyboard.type(months)
    tab_to(page, "Generate", tag="button")
    assert_focus_ring(page)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/profile/$"))


def test_seed_walkthrough_with_the_keyboard_only(page, user):
    # 1. Sign in, typing into fields reached by Tab; Manage Profile in the left-hand menu.
    page.goto("/accounts/signin/")
    tab_to(page, "Email", tag="input")
    page.keyboard.type(user.email)
    tab_to(page, "Password", tag="input")
    page.keyboard.type(PASSWORD)
    tab_to(page, "Sign in", tag="button")
    assert_focus_ring(page)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

    tab_to(page, "Manage Profile", tag="a")
    assert_focus_ring(page)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Manage Profile", exact=True)).to_be_visible()

    # 2-4. Generate API Keys, 5 months, Generate: the new key is shown in full.
    generate(page, months="5")
    expect(page.get_by_text("shown in full only now")).to_be_visible()
    (first_secret,) = shown_secrets(page)
    first = ApiKey.objects.get(owner=user)
    assert first.expires is not None

    # 5. A second key that never expires.
    generate(page, months=None)
    (second_secret,) = shown_secrets(page)
    assert second_secret != first_secret
    second = ApiKey.objects.exclude(pk=first.pk).get(owner=user)
    assert second.expires is None

    # 6. View API Keys shows both; Hide API Keys masks them again.
    tab_to(page, "View API Keys", tag="button")
    assert_focus_ring(page)
    page.keyboard.press("Space")
    expect(page.get_by_text("Secret keys are shown because you chose View")).to_be_visible()
    assert sorted(shown_secrets(page)) == sorted([first_secret, second_secret])
    tab_to(page, "Hide API Keys", tag="a")
    page.keyboard.press("Enter")
    expect(page.get_by_text("Secret keys are shown because you chose View")).to_have_count(0)
    assert shown_secrets(page) == []

    # 7. Delete the first key via its confirmation page (Shift+Tab back from Cancel); Delete
    # is in the key's Actions menu, which Enter opens.
    tab_to(page, f"Actions for {first.key}", tag="summary")
    page.keyboard.press("Enter")
    tab_to(page, f"Delete {first.key}", tag="a")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Delete API Key")).to_be_visible()
    tab_to(page, "Cancel", tag="a")
    tab_to(page, "Delete API Key", tag="button", back=True)
    assert_focus_ring(page)
    page.keyboard.press("Enter")
    expect(page.get_by_text(f"The API key {first.key} has been deleted.")).to_be_visible()
    expect(page.locator("#api-keys tbody tr")).to_have_count(1)
    first.refresh_from_db()
    assert first.deleted_at is not None
    assert ApiKey.objects.filter(owner=user).not_deleted().get() == second
