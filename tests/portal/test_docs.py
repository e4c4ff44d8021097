"""The README and docs/ stay a map that leads somewhere.

- Every relative link in README.md and docs/*.md reaches a file, and its `#anchor` a heading
  of the Markdown file it names (GitHub's slugs).
- Every file or folder of this repository that they name (`apikeys/usage.py`, `tests/scale/`)
  exists, so a module that moves takes its mentions with it.
- The README stays a front door: at most 300 lines, linking every page of docs/.
- Its "Where things live" table names every package and module of portal, accounts, apikeys
  and audit, and nothing that is not there. Migrations are left out; a package's
  `__init__.py` is its package's line (`apikeys/`); management commands are one line per app,
  the package `<app>/management/commands/`, never each command.
- docs/activity-log.md's canonical form lists audit/chain.py's cells in their order, and its
  offline verifier verifies an export (and catches an edit).
"""

import csv
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from audit import chain

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
APPS = ("portal", "accounts", "apikeys", "audit")
README_MAX_LINES = 300
MAP_HEADING = "## Where things live"

FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"`[^`\n]*`")
INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"""<a\s+(?:id|name)=["']([^"']+)["']""")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
MAP_ROW = re.compile(r"^\|\s*`([^`]+)`")
# A path in this repository as prose names it: a file under one of its folders, or a folder
# written with its trailing slash in code (`tests/scale/`). URLs (/accounts/users/) start with /.
TOP = r"(?:portal|accounts|apikeys|audit|tests|bench|templates|static|docs)/"
REPO_PATH = re.compile(
    rf"(?<![\w/.-])({TOP}[\w./*-]*\.(?:py|html|txt|md|css|js))\b|`({TOP}[\w./-]*/)`"
)


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks, with inline code spans blanked out."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        lines.append("" if fenced else CODE_SPAN.sub("``", line))
    return lines


def links(text: str) -> list[str]:
    found = []
    for line in prose_lines(text):
        found += INLINE_LINK.findall(line)
        if definition := REFERENCE_DEFINITION.match(line):
            found.append(definition[1])
    return found


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text in lower case, punctuation dropped, spaces as -."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link reads as its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every anchor a Markdown file offers: its headings' slugs (-1, -2 for repeats), HTML ids."""
    seen: dict[str, int] = {}
    found = set()
    fenced = False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        if fenced or not (heading := HEADING.match(line)):
            found.update(HTML_ANCHOR.findall(line) if not fenced else [])
            continue
        base = slug(heading[2])
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken_links(files: list[Path], root: Path) -> list[str]:
    """Each relative link in files that points nowhere, as 'file: link (why)'."""
    broken = []
    for source in files:
        for link in links(source.read_text(encoding="utf-8")):
            if SCHEME.match(link) or link.startswith("//"):
                continue  # another site's address: not this repository's to keep
            path, _, anchor = link.partition("#")
            target = (source.parent / path).resolve() if path else source
            where = f"{source.relative_to(root)}: {link}"
            if not target.exists():
                broken.append(f"{where} (no such file)")
            elif anchor and target.suffix != ".md":
                broken.append(f"{where} (an anchor in a file that is not Markdown)")
            elif anchor and anchor not in anchors(target.read_text(encoding="utf-8")):
                broken.append(f"{where} (no such heading)")
    return broken


def map_entries(readme: str) -> list[str]:
    """The paths the "Where things live" section's tables name in their first column."""
    lines = readme.splitlines()
    start = lines.index(MAP_HEADING) + 1
    entries = []
    for line in lines[start:]:
        if line.startswith("## "):
            break
        if row := MAP_ROW.match(line):
            entries.append(row[1])
    return entries


def expected_entries(root: Path) -> set[str]:
    """Every package (as `dir/`) and module of the apps, as the table must name them."""
    expected = set()
    for app in APPS:
        for path in (root / app).rglob("*.py"):
            parts = path.relative_to(root).parts
            if "migrations" in parts:
                continue
            if "management" in parts:
                management = parts.index("management")
                expected.add("/".join(parts[:management]) + "/management/commands/")
            elif path.name == "__init__.py":
                expected.add("/".join(parts[:-1]) + "/")
            else:
                expected.add("/".join(parts))
    return expected


def map_mismatches(readme: str, root: Path) -> tuple[list[str], list[str]]:
    """(missing, extra): what the table should name and does not, and what it should not."""
    entries = map_entries(readme)
    expected = expected_entries(root)
    missing = sorted(expected - set(entries))
    extra = sorted(
        {
            entry
            for entry in entries
            if not (root / entry).exists()
            or (entry.split("/")[0] in APPS and entry not in expected)
        }
        | {entry for entry in entries if entries.count(entry) > 1}
    )
    return missing, extra


def missing_paths(files: list[Path], root: Path) -> list[str]:
    """Each repository path the files name (globs allowed) that matches nothing."""
    missing = []
    for source in files:
        for match in REPO_PATH.finditer(source.read_text(encoding="utf-8")):
            path = match[1] or match[2]
            if not any(root.glob(path.rstrip("/"))):
                missing.append(f"{source.relative_to(root)}: {path}")
    return sorted(set(missing))


def markdown_files() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def test_every_relative_link_in_the_readme_and_docs_resolves():
    broken = broken_links(markdown_files(), ROOT)
    assert broken == [], "Links that point nowhere:\n" + "\n".join(broken)


def test_every_file_and_folder_the_readme_and_docs_name_exists():
    missing = missing_paths(markdown_files(), ROOT)
    assert missing == [], "Paths named in the docs that are not in the tree:\n" + "\n".join(missing)


def test_the_readme_is_at_most_300_lines():
    lines = len(README.read_text(encoding="utf-8").splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move detail to docs/"


def test_the_readme_links_every_page_of_docs():
    linked = {
        (ROOT / link.partition("#")[0]).resolve()
        for link in links(README.read_text(encoding="utf-8"))
        if not SCHEME.match(link)
    }
    unlinked = [str(page.relative_to(ROOT)) for page in DOCS.glob("*.md") if page not in linked]
    assert sorted(unlinked) == [], "Pages of docs/ the README does not link to"


def test_where_things_live_names_every_package_and_module_and_nothing_else():
    missing, extra = map_mismatches(README.read_text(encoding="utf-8"), ROOT)
    assert (missing, extra) == ([], []), (
        "README.md, 'Where things live', does not match the tree.\n"
        f"Missing (add a line each): {missing}\n"
        f"Extra (gone, misspelt, repeated or not a module): {extra}"
    )


def test_the_canonical_form_in_the_activity_log_doc_lists_the_chains_cells_in_order():
    doc = (DOCS / "activity-log.md").read_text(encoding="utf-8")
    spec = doc[doc.index("## The hash chain: canonical form, version 1") :]
    cells = re.findall(r"^\| \d+ \| `(\w+)` \|", spec, re.M)
    assert cells == chain.CSV_COLUMNS[:-1]


def _export(path: Path, target_emails: list[str]) -> None:
    """A chain of entries written as Export CSV writes it: hashed, then neutralised."""
    prev = chain.GENESIS
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, lineterminator="\r\n")
        writer.writerow(chain.CSV_COLUMNS)
        for seq, email in enumerate(target_emails, start=1):
            cells = chain.cells(
                seq=seq,
                time=datetime(2026, 11, 26, 22, 54, 5, 123456, tzinfo=UTC),
                event="user.created",
                actor_id=None,
                actor_email="",
                actor_role="",
                target_user_id=seq,
                target_email=email,
                api_key="",
                ip=None,
                user_agent="",
                details={"note": "naïve ünïcode", "a": [1, "\t"]},
                prev_hash=prev,
            )
            prev = chain.digest(cells)
            writer.writerow([chain.neutralise(cell) for cell in [*cells, prev]])


def test_the_verifier_in_the_activity_log_doc_checks_an_export(tmp_path: Path):
    doc = (DOCS / "activity-log.md").read_text(encoding="utf-8")
    script = tmp_path / "verify.py"
    script.write_text(re.search(r"```python\n(.*?)```", doc, re.S)[1], encoding="utf-8")
    export = tmp_path / "activity.csv"
    _export(export, ["ada@example.com", "=cmd|' /C calc'!A0", "'quoted@example.com"])

    ok = subprocess.run([sys.executable, script, export], capture_output=True, text=True)
    assert (ok.returncode, ok.stdout) == (0, "3 entries verified\n"), ok.stderr

    export.write_text(export.read_text(encoding="utf-8").replace("ada@", "eve@"), "utf-8")
    bad = subprocess.run([sys.executable, script, export], capture_output=True, text=True)
    assert bad.returncode != 0 and "entry 1: hash" in bad.stderr


def test_the_link_check_reports_a_missing_file_and_a_missing_heading(tmp_path: Path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A page\n\n## Signing a request (v1)\n")
    readme = tmp_path / "README.md"
    readme.write_text(
        "[ok](docs/a.md#signing-a-request-v1) [ok](#top) [web](https://example.com/x#y)\n"
        "`[code](nowhere.md)`\n```\n[fenced](nowhere.md)\n```\n"
        "[gone](docs/b.md) [typo](docs/a.md#signing) [self](#nope)\n# Top\n"
    )
    assert broken_links([readme], tmp_path) == [
        "README.md: docs/b.md (no such file)",
        "README.md: docs/a.md#signing (no such heading)",
        "README.md: #nope (no such heading)",
    ]


def test_the_path_check_reports_a_file_that_is_gone(tmp_path: Path):
    (tmp_path / "audit").mkdir()
    (tmp_path / "audit" / "chain.py").write_text("")
    readme = tmp_path / "README.md"
    readme.write_text(
        "See audit/chain.py, `audit/`, audit/c*.py and /audit/gone.py (a URL), migration "
        "`audit/0004`; but (audit/gone.py) and `tests/scale/` are not there.\n"
    )
    assert missing_paths([readme], tmp_path) == [
        "README.md: audit/gone.py",
        "README.md: tests/scale/",
    ]


def test_slugs_follow_github():
    assert slug("The API (Constellix-compatible)") == "the-api-constellix-compatible"
    assert slug("`audit/chain.py`: canonical form, version 1") == (
        "auditchainpy-canonical-form-version-1"
    )
    assert anchors("# Errors\n## Errors\n") == {"errors", "errors-1"}


def test_the_map_check_lists_missing_and_extra_entries(tmp_path: Path):
    for path in (
        "portal/__init__.py",
        "portal/urls.py",
        "accounts/__init__.py",
        "accounts/views.py",
        "accounts/management/__init__.py",
        "accounts/management/commands/__init__.py",
        "accounts/management/commands/seed_demo.py",
        "accounts/migrations/0001_initial.py",
        "apikeys/__init__.py",
        "audit/__init__.py",
    ):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("")
    readme = (
        "# X\n## Where things live\n| path | what |\n|---|---|\n"
        "| `portal/` | p |\n| `portal/urls.py` | u |\n| `portal/gone.py` | g |\n"
        "| `accounts/` | a |\n| `accounts/management/commands/` | c |\n"
        "| `apikeys/` | k |\n| `apikeys/` | again |\n| `tests/` | not an app |\n"
        "## Next\n| `audit/views.py` | outside the section |\n"
    )
    (tmp_path / "tests").mkdir()
    missing, extra = map_mismatches(readme, tmp_path)
    assert missing == ["accounts/views.py", "audit/"]
    assert extra == ["apikeys/", "portal/gone.py"]
