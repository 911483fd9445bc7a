"""The lock-retry schedule and a migration file's own `-- lock_timeout:`."""

from __future__ import annotations

import pytest

from {{ cookiecutter.package_name }}.config import load_settings
from {{ cookiecutter.package_name }}.database.lock_retry import LockRetryPolicy, header_lock_timeout, runs_concurrently
from {{ cookiecutter.package_name }}.errors import ConfigError, MigrationError


def test_the_default_schedule_grows_to_two_seconds_within_a_few_minutes() -> None:
    schedule = LockRetryPolicy().schedule()
    timeouts = [attempt.timeout for attempt in schedule]
    sleeps = [attempt.sleep for attempt in schedule]

    assert timeouts[:5] == [0.1, 0.2, 0.4, 0.8, 1.6]
    assert max(timeouts) == 2.0
    assert timeouts == sorted(timeouts)
    assert sleeps == sorted(sleeps)
    assert max(sleeps) == 10.0
    planned = sum(a.timeout + a.sleep for a in schedule)
    assert 120 <= planned <= 180 + 12


def test_a_smaller_maximum_caps_every_attempt() -> None:
    assert {a.timeout for a in LockRetryPolicy(max_timeout=0.3, window=60).schedule()} == {0.1, 0.2, 0.3}


def test_a_file_may_wait_longer_than_the_service() -> None:
    policy = LockRetryPolicy().with_max_timeout(10.0)
    assert max(a.timeout for a in policy.schedule()) == 10.0


def test_a_zero_window_makes_one_attempt_with_the_longest_timeout() -> None:
    [only] = LockRetryPolicy(max_timeout=2.0, window=0).schedule()
    assert (only.timeout, only.sleep) == (2.0, 0.0)


def test_a_zero_timeout_turns_bounded_waits_off() -> None:
    policy = LockRetryPolicy(max_timeout=0)
    assert not policy.enabled
    assert [a.timeout for a in policy.schedule()] == [0.0]


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("-- lock_timeout: 10s\nALTER TABLE users ADD COLUMN a TEXT;", 10.0),
        ("-- transactional: false\n--lock_timeout:500ms\nCREATE INDEX CONCURRENTLY i ON t (a);", 0.5),
        ("-- lock_timeout: 1min\n", 60.0),
        ("-- lock_timeout: 3\n", 3.0),
        ("ALTER TABLE users ADD COLUMN a TEXT;\n-- lock_timeout: 10s\n", None),
        ("-- a comment only\nSELECT 1;", None),
    ],
)
def test_the_header_is_read_from_the_leading_comments(header: str, seconds: float | None) -> None:
    assert header_lock_timeout(header, "0002_x.sql") == seconds


def test_a_bad_header_names_the_file() -> None:
    with pytest.raises(
        MigrationError, match=r"^0002_x.sql has lock_timeout 'soon': use e.g. 500ms, 2s or 1min$"
    ):
        header_lock_timeout("-- lock_timeout: soon\n", "0002_x.sql")


def test_the_settings_come_from_the_environment() -> None:
    settings = load_settings({"MIGRATION_DDL_LOCK_TIMEOUT": "0.5", "MIGRATION_DDL_RETRY_WINDOW": "30"}, None)
    assert settings.lock_retry == LockRetryPolicy(max_timeout=0.5, window=30.0)
    assert load_settings({}, None).lock_retry == LockRetryPolicy(max_timeout=2.0, window=180.0)


@pytest.mark.parametrize("variable", ["MIGRATION_DDL_LOCK_TIMEOUT", "MIGRATION_DDL_RETRY_WINDOW"])
@pytest.mark.parametrize("value", ["-1", "inf", "nan", "soon"])
def test_a_bad_setting_is_refused_by_name(variable: str, value: str) -> None:
    with pytest.raises(
        ConfigError, match=f"^{variable} has value '{value}': expected a number of seconds from 0 to 86400$"
    ):
        load_settings({variable: value}, None)


def test_a_huge_window_is_capped_at_a_day() -> None:
    planned = sum(a.timeout + a.sleep for a in LockRetryPolicy(window=1e12).schedule())
    assert 86_000 <= planned <= 86_400 + 12


@pytest.mark.parametrize(
    ("statement", "concurrent"),
    [
        ("CREATE INDEX CONCURRENTLY users_name_idx ON users (name)", True),
        ("\n  create unique index concurrently if not exists u ON users (email)", True),
        ("-- build it without blocking writes\nCREATE INDEX CONCURRENTLY i ON users (name)", True),
        ("DROP INDEX CONCURRENTLY IF EXISTS i", True),
        ("REINDEX INDEX CONCURRENTLY i", True),
        ("REINDEX (VERBOSE) TABLE CONCURRENTLY users", True),
        ("REFRESH MATERIALIZED VIEW CONCURRENTLY totals", True),
        ("-- add the index concurrently later\nALTER TABLE users ADD COLUMN a TEXT", False),
        ("/* CREATE INDEX CONCURRENTLY */ ALTER TABLE users ADD COLUMN a TEXT", False),
        ("CREATE INDEX i ON users (name)", False),
        ("UPDATE users SET name = 'CREATE INDEX CONCURRENTLY'", False),
    ],
)
def test_only_the_concurrently_forms_wait_unbounded(statement: str, concurrent: bool) -> None:
    assert runs_concurrently(statement) is concurrent
