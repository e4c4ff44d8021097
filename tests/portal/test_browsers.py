"""Where the browser tests look for a browser, with fake paths: explicit BROWSER_PATH, then the
usual locations, then PATH, then Playwright's own Chromium (downloaded once a day at most)."""

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.browsers import KNOWN_PATHS, BrowserPathMissing, find_browser, try_playwright_install

MANAGED = "/home/me/.cache/ms-playwright/chromium-1255/chrome-linux64/chrome"


def only(*paths: str) -> Callable[[str], bool]:
    """A file system holding just these executables."""
    return set(paths).__contains__


def test_browser_path_wins_over_everything() -> None:
    env = {"BROWSER_PATH": "/opt/chrome/chrome", "PATH": "/usr/bin"}
    exists = only("/opt/chrome/chrome", "/usr/bin/chromium", MANAGED)
    assert find_browser(env, exists, MANAGED) == "/opt/chrome/chrome"


def test_a_browser_path_given_as_a_name_is_looked_up_on_path() -> None:
    env = {"BROWSER_PATH": "brave-browser", "PATH": "/usr/local/bin:/usr/bin"}
    assert find_browser(env, only("/usr/bin/brave-browser")) == "/usr/bin/brave-browser"


@pytest.mark.parametrize("value", ["/nonexistent", "no-such-browser"])
def test_a_browser_path_that_names_nothing_is_an_error_even_with_chromium_about(value: str) -> None:
    env = {"BROWSER_PATH": value, "PATH": "/usr/bin"}
    with pytest.raises(BrowserPathMissing) as error:
        find_browser(env, only("/usr/bin/chromium", "/usr/bin/no-such"), MANAGED)
    assert str(error.value) == (
        f"BROWSER_PATH is {value}, which is not an executable file "
        "(unset it to look in the usual places)"
    )


def test_usr_bin_chromium_comes_first_of_the_usual_locations() -> None:
    assert KNOWN_PATHS[0] == "/usr/bin/chromium"
    assert find_browser({}, only(*KNOWN_PATHS, MANAGED), MANAGED) == "/usr/bin/chromium"


@pytest.mark.parametrize("index", range(len(KNOWN_PATHS)))
def test_the_usual_locations_are_tried_in_order(index: int) -> None:
    # Every later location exists too, and a browser on PATH, and Playwright's own.
    exists = only(*KNOWN_PATHS[index:], "/home/me/bin/chromium", MANAGED)
    assert find_browser({"PATH": "/home/me/bin"}, exists, MANAGED) == KNOWN_PATHS[index]


def test_then_the_usual_names_on_path_in_path_order() -> None:
    env = {"PATH": os.pathsep.join(["/opt/homebrew/bin", "", "/usr/local/bin"])}
    exists = only("/usr/local/bin/chromium", "/opt/homebrew/bin/google-chrome", MANAGED)
    assert find_browser(env, exists, MANAGED) == "/usr/local/bin/chromium"
    exists = only("/usr/local/bin/google-chrome-stable", "/opt/homebrew/bin/google-chrome")
    assert find_browser(env, exists, MANAGED) == "/opt/homebrew/bin/google-chrome"


def test_then_playwrights_own_chromium_if_it_was_downloaded() -> None:
    env = {"PATH": "/usr/bin:/bin"}
    assert find_browser(env, only(MANAGED), MANAGED) == MANAGED
    assert find_browser(env, only(), MANAGED) is None


def test_nothing_anywhere_finds_nothing() -> None:
    assert find_browser({}, only()) is None


def test_a_failed_download_is_remembered_for_a_day(tmp_path: Path) -> None:
    log, failed = tmp_path / "install.log", tmp_path / "install-failed"
    ran = tmp_path / "ran"
    script = f"open({str(ran)!r}, 'a').write('x'); print('no network'); raise SystemExit(1)"
    fails = [sys.executable, "-c", script]

    assert not try_playwright_install(log, failed, fails)
    assert failed.exists() and "no network" in log.read_text()
    assert not try_playwright_install(log, failed, fails)
    assert ran.read_text() == "x", "tried again within the day"

    a_day_ago = time.time() - 24 * 3600 - 60
    os.utime(failed, (a_day_ago, a_day_ago))
    assert not try_playwright_install(log, failed, fails)
    assert ran.read_text() == "xx"


def test_a_download_that_works_forgets_the_failure(tmp_path: Path) -> None:
    log, failed = tmp_path / "install.log", tmp_path / "install-failed"
    failed.touch()
    os.utime(failed, (0, 0))
    assert try_playwright_install(log, failed, [sys.executable, "-c", "pass"])
    assert not failed.exists()


def test_a_download_that_hangs_is_given_up(tmp_path: Path) -> None:
    log, failed = tmp_path / "install.log", tmp_path / "install-failed"
    hangs = [sys.executable, "-c", "import time; time.sleep(60)"]
    started = time.monotonic()
    assert not try_playwright_install(log, failed, hangs, timeout=1)
    assert time.monotonic() - started < 30
    assert failed.exists() and "Gave up after 1 s." in log.read_text()
