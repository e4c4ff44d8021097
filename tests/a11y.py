"""axe-core, run inside the pages the browser tests open.

The script is the axe.min.js that the axe-playwright-python wheel ships (pinned in
requirements.lock), so pip alone brings it, never a CDN.
"""

from functools import cache
from importlib.resources import files

from playwright.sync_api import Page

BLOCKING = ("serious", "critical")


@cache
def axe_source() -> str:
    return files("axe_playwright_python").joinpath("axe.min.js").read_text(encoding="utf-8")


def assert_accessible(page: Page) -> None:
    """Fail on any axe violation of impact serious or critical on the current page."""
    # Evaluated through the DevTools protocol, which the page's CSP does not govern, so the
    # tests need not weaken the policy they are checking.
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source())
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    blocking = [v for v in result["violations"] if v["impact"] in BLOCKING]
    details = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in blocking
    ]
    assert not blocking, f"accessibility violations on {page.url}:\n" + "\n".join(details)
