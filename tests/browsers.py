"""Where the browser tests find a Chromium or Chrome.

`find_browser` is pure: it takes the environment and an `exists` predicate, so the order is
tested with fake paths (tests/portal/test_browsers.py). The one side effect, asking Playwright
to download its own Chromium, is `try_playwright_install`, tried at most once a day.
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

# The usual places on Linux, then macOS; /usr/bin/chromium first, as CI installs it there.
KNOWN_PATHS = (
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
    "/usr/bin/google-chrome-stable",
    "/snap/bin/chromium",
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
)
# The same browsers installed anywhere else on PATH (/usr/local, Homebrew, Nix).
KNOWN_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

HOW_TO_GET_ONE = (
    "set BROWSER_PATH, apt-get install chromium, or python -m playwright install chromium"
)
INSTALL_COMMAND = (sys.executable, "-m", "playwright", "install", "chromium")
INSTALL_TIMEOUT = 120
RETRY_INSTALL_AFTER = 24 * 3600


class BrowserPathMissing(Exception):
    """BROWSER_PATH names no executable: an explicit choice gone wrong fails, never skips."""


def is_executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def on_path(name: str, env: Mapping[str, str], exists: Callable[[str], bool]) -> str | None:
    """What `shutil.which` would answer, with the PATH and the file system passed in."""
    for directory in env.get("PATH", "").split(os.pathsep):
        candidate = os.path.join(directory, name)
        if directory and exists(candidate):
            return candidate
    return None


def find_browser(
    env: Mapping[str, str], exists: Callable[[str], bool], managed: str | None = None
) -> str | None:
    """The browser to drive: BROWSER_PATH, else the usual locations, else `managed` (where
    Playwright keeps the Chromium it downloads) if it is there. None when there is none."""
    explicit = env.get("BROWSER_PATH", "")
    if explicit:
        found = explicit if os.sep in explicit else on_path(explicit, env, exists)
        if found is None or not exists(found):
            raise BrowserPathMissing(
                f"BROWSER_PATH is {explicit}, which is not an executable file "
                "(unset it to look in the usual places)"
            )
        return found
    for path in KNOWN_PATHS:
        if exists(path):
            return path
    for name in KNOWN_NAMES:
        if found := on_path(name, env, exists):
            return found
    if managed and exists(managed):
        return managed
    return None


def try_playwright_install(
    log: Path,
    failed_marker: Path,
    command: Sequence[str] = INSTALL_COMMAND,
    timeout: float = INSTALL_TIMEOUT,
) -> bool:
    """Let Playwright download its Chromium, unless that failed less than a day ago: a machine
    that cannot reach Playwright's download host should not wait for it on every run."""
    if failed_marker.exists() and time.time() - failed_marker.stat().st_mtime < RETRY_INSTALL_AFTER:
        return False
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as output:
        # A session of its own, so a timeout also ends the download the CLI hands to node.
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            succeeded = process.wait(timeout=timeout) == 0
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            output.write(f"\nGave up after {timeout:g} s.\n")
            succeeded = False
    if succeeded:
        failed_marker.unlink(missing_ok=True)
    else:
        failed_marker.touch()
    return succeeded
