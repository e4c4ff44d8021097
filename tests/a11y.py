"""axe-core, from the npm package (never a CDN), run inside pages the browser tests open."""

from pathlib import Path

import pytest

AXE = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")


def assert_accessible(page) -> None:
    """Fail on any axe violation of impact serious or critical on the current page."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (make test does)")
    # Evaluated through the DevTools protocol, which the page's CSP does not govern, so the
    # tests need not weaken the policy they are checking.
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    blocking = [v for v in result["violations"] if v["impact"] in BLOCKING]
    details = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in blocking
    ]
    assert not blocking, f"accessibility violations on {page.url}:\n" + "\n".join(details)
