"""The apps' layers hold in templates and names too, where the import linter cannot see.

accounts is below audit, and audit below apikeys (README, "Architecture"): a lower app's
templates name no URL of an app above it and include none of its templates, and its code
does not name an upper app's URLs or relations.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ABOVE = {"accounts": ("audit", "apikeys"), "audit": ("apikeys",)}
URL_NAME = re.compile(r"""\{%\s*url\s+['"](\w+):""")
TEMPLATE_NAME = re.compile(r"""\{%\s*(?:include|extends)\s+['"](\w+)/""")
# In Python: a URL name ("apikeys:profile") or the reverse relation ApiKey.owner makes.
CODE_NAME = re.compile(r"""['"](\w+):\w+['"]|\bapi_keys\b""")


def crossings(app: str, text: str, pattern: re.Pattern[str]) -> list[str]:
    """Each name in text that belongs to an app above `app`."""
    return [m[0] for m in pattern.finditer(text) if m[1] in ABOVE[app] or m[1] is None]


def _files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    return [p for p in folder.rglob("*") if p.suffix in suffixes and "migrations" not in p.parts]


@pytest.mark.parametrize("app", list(ABOVE))
def test_templates_name_no_url_or_template_of_an_app_above(app: str):
    found = {
        str(path.relative_to(ROOT)): crossed
        for path in _files(ROOT / "templates" / app, (".html", ".txt"))
        if (
            crossed := crossings(app, path.read_text(), URL_NAME)
            + crossings(app, path.read_text(), TEMPLATE_NAME)
        )
    }
    assert found == {}


@pytest.mark.parametrize("app", list(ABOVE))
def test_code_names_no_url_or_relation_of_an_app_above(app: str):
    found = {
        str(path.relative_to(ROOT)): crossed
        for path in _files(ROOT / app, (".py",))
        if (crossed := crossings(app, path.read_text(), CODE_NAME))
    }
    assert found == {}


def test_the_checks_see_a_crossing():
    template = (
        "{% url 'apikeys:profile' %} {% include \"audit/_table.html\" %} {% url 'accounts:x' %}"
    )
    assert crossings("accounts", template, URL_NAME) == ["{% url 'apikeys:"]
    assert crossings("accounts", template, TEMPLATE_NAME) == ['{% include "audit/']
    code = 'redirect("apikeys:profile"); Count("api_keys"); reverse("accounts:users")'
    assert crossings("accounts", code, CODE_NAME) == ['"apikeys:profile"', "api_keys"]
    assert crossings("audit", code, CODE_NAME) == ['"apikeys:profile"', "api_keys"]
