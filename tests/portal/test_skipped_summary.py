"""The line at the end of `make test` that says what was skipped and why, and the reason the
scale-out tests give when PostgreSQL or Redis is not there."""

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import skipped_line
from tests.scale.conftest import missing_services

NO_BROWSER = (
    "no Chromium or Chrome found: set BROWSER_PATH, apt-get install chromium, "
    "or python -m playwright install chromium"
)
NO_SERVICES = "PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 not reachable"


def skipped(name: str, mark: str, reason: str) -> pytest.TestReport:
    return pytest.TestReport(
        f"tests/test_x.py::{name}",
        ("tests/test_x.py", 1, name),
        {name: 1, mark: 1},
        "skipped",
        ("tests/conftest.py", 140, f"Skipped: {reason}"),
        "setup",
    )


def test_nothing_skipped_says_so() -> None:
    assert skipped_line([]) == "Skipped: nothing."


def test_each_kind_is_counted_with_its_reason_once() -> None:
    reports = [
        skipped("test_walkthrough", "browser", NO_BROWSER),
        skipped("test_keyboard", "browser", NO_BROWSER),
        skipped("test_races", "scale", NO_SERVICES),
    ]
    assert skipped_line(reports) == (
        f"Skipped: 2 browser tests ({NO_BROWSER}); 1 scale-out test ({NO_SERVICES})"
    )


def test_tests_that_count_in_redis_are_named_as_such() -> None:
    reason = "Redis not reachable on 127.0.0.1:6379"
    reports = [skipped("test_one_round_trip", "redis", reason)] * 2
    assert skipped_line(reports) == f"Skipped: 2 Redis tests ({reason})"


def test_any_other_skip_is_named_too() -> None:
    reports = [skipped("test_on_windows", "django_db", "needs a POSIX shell")]
    assert skipped_line(reports) == "Skipped: 1 other test (needs a POSIX shell)"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def listening() -> Iterator[list[int]]:
    sockets = [socket.create_server(("127.0.0.1", 0)) for _ in range(2)]
    yield [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()


@pytest.fixture
def psql_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    psql = tmp_path / "psql"
    psql.write_text("#!/bin/sh\n")
    psql.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))


@pytest.mark.usefixtures("psql_on_path")
def test_the_scale_out_tests_run_when_both_services_answer(listening: list[int]) -> None:
    assert missing_services(*listening) is None


@pytest.mark.usefixtures("psql_on_path")
def test_the_scale_out_tests_name_each_service_not_reachable(listening: list[int]) -> None:
    pg, redis = _closed_port(), _closed_port()
    assert missing_services(pg, redis) == (
        f"PostgreSQL on 127.0.0.1:{pg} and Redis on 127.0.0.1:{redis} not reachable"
    )
    assert missing_services(listening[0], redis) == f"Redis on 127.0.0.1:{redis} not reachable"


def test_the_scale_out_tests_need_psql(
    listening: list[int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert missing_services(*listening) == "psql not on PATH"
