"""Settings: defaults, .env files, and errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.config import load_settings
from {{ cookiecutter.package_name }}.database.target import redact_url
from {{ cookiecutter.package_name }}.errors import ConfigError
from conftest import cli


def test_defaults_without_any_variable() -> None:
    settings = load_settings({}, env_file=None)

    assert settings.app_env == "development"
    assert settings.auto_migrate is True
    assert (settings.pool_min, settings.pool_max) == (2, 10)
    assert settings.ready_timeout == 2.0
    assert settings.log_format == "text"


def test_environment_wins_over_the_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("AUTO_MIGRATE=false\nLOG_LEVEL=debug\n")

    settings = load_settings({"LOG_LEVEL": "warning"}, env_file=env_file)

    assert settings.auto_migrate is False
    assert settings.log_level == "WARNING"


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"AUTO_MIGRATE": "maybe"}, "AUTO_MIGRATE has value 'maybe'"),
        ({"APP_ENV": "staging"}, "APP_ENV has value 'staging'"),
        ({"DB_POOL_MAX": "ten"}, "DB_POOL_MAX has value 'ten'"),
        ({"DB_POOL_MIN": "20", "DB_POOL_MAX": "5"}, "DB_POOL_MIN (20) is greater than DB_POOL_MAX (5)"),
        ({"DB_CONNECT_TIMEOUT": "-1"}, "DB_CONNECT_TIMEOUT has value '-1'"),
        # Numbers that parse, then break a wait or a bind later: refused when settings load.
        ({"DB_CONNECT_TIMEOUT": "nan"}, "DB_CONNECT_TIMEOUT has value 'nan': expected a number of seconds"),
        ({"DB_CONNECT_TIMEOUT": "inf"}, "DB_CONNECT_TIMEOUT has value 'inf'"),
        ({"DB_CONNECT_TIMEOUT": "1e400"}, "DB_CONNECT_TIMEOUT has value '1e400'"),
        ({"MIGRATION_LOCK_TIMEOUT": "inf"}, "MIGRATION_LOCK_TIMEOUT has value 'inf'"),
        (
            {"MIGRATION_LOCK_TIMEOUT": "3000000"},
            "MIGRATION_LOCK_TIMEOUT has value '3000000': expected a number of seconds from 0 to 86400",
        ),
        ({"DB_POOL_MIN": "--5"}, "DB_POOL_MIN has value '--5': expected a whole number from 0 to 10000"),
        ({"PORT": "99999"}, "PORT has value '99999': expected a whole number from 1 to 65535"),
        ({"DATABASE_URL": "oracle://scott:tiger@db/orcl"}, "unsupported scheme 'oracle'"),
    ],
)
def test_bad_values_name_the_variable(variables: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(variables, env_file=None)

    assert message in str(raised.value)
    assert "tiger" not in str(raised.value)


# 0 leaves no time at all (a statement_timeout of 0 is none); nan, inf and 1e400 break the wait.
@pytest.mark.parametrize("value", ["nan", "-1", "abc", "0", "inf", "1e400"])
def test_ready_timeout_must_be_a_finite_number_of_seconds(value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings({"READY_TIMEOUT": value}, env_file=None)

    assert str(raised.value) == (
        f"READY_TIMEOUT has value {value!r}: expected a number of seconds from 0.1 to 86400"
    )


def test_serve_refuses_a_bad_ready_timeout_in_one_line_before_serving() -> None:
    result = cli("serve", READY_TIMEOUT="nan")

    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: READY_TIMEOUT has value 'nan': expected a number of seconds from 0.1 to 86400"
    )


def test_redact_url_hides_the_password_even_in_a_malformed_url() -> None:
    assert redact_url("db://app:s3cret@host:port/db") == "db://app:***@host:port/db"
    assert redact_url("db://app@host/db") == "db://app@host/db"
    assert redact_url("db://app:S3c/r#t?@:%x@db:5432/app") == "db://app:***@db:5432/app"
    assert redact_url("db//app:S3c/ret@db.prod:5432/auth") == "db//app:***@db.prod:5432/auth"


@pytest.mark.parametrize(
    "url",
    ["db//app:S3cretPW!x@db.prod:5432/auth", "db:app@db/auth", "//db/auth", "app@db"],
)
def test_a_value_that_looks_like_a_url_is_never_taken_as_a_file(url: str) -> None:
    with pytest.raises(
        ConfigError, match=r"looks like a URL but is not one \(is '://' missing\?\)"
    ) as raised:
        load_settings({"DATABASE_URL": url}, env_file=None)

    assert "S3cretPW" not in str(raised.value)
