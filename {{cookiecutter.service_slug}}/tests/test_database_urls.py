"""DATABASE_URL as an operator types it, right or wrong: libpq's options pass
through, a mistake is one line that names it, and the password never shows.

Every row runs the real command line against the test server; the password is
made of every character a URL gives a meaning to."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest

from conftest import cli
from helpers_postgresql import postgres_server

PASSWORD = "S3c/r#t?@:%x"
# Pieces of it that a parser's message could quote.
PIECES = (PASSWORD, "S3c/", "r#t", "t?@", quote(PASSWORD, safe=""))


def server_url(query: str = "", password: str = "") -> str:
    server = postgres_server()
    credentials = f"{server.user}:{password}" if password else server.user
    return f"postgresql://{credentials}@{server.host}:{server.port}/{server.dbname}{query}"


REFUSED = [
    pytest.param(
        lambda: server_url(password=PASSWORD).replace("://", "//", 1),
        "looks like a URL but is not one (is '://' missing?)",
        id="missing-colon",
    ),
    pytest.param(
        lambda: server_url(password=PASSWORD),
        "is malformed: its host or port does not parse. A password holding / # ? @ : or % must be "
        "percent-encoded",
        id="raw-special-characters",
    ),
    pytest.param(lambda: server_url("?foo=bar"), 'invalid connection option "foo"', id="unknown-option"),
    pytest.param(lambda: server_url("?sslmode=bogus"), 'invalid sslmode value: "bogus"', id="bad-sslmode"),
    pytest.param(
        lambda: server_url("?sslmode=require"),
        "server does not support SSL, but SSL was required",
        id="no-tls",
    ),
]


@pytest.mark.parametrize(("url", "message"), REFUSED)
def test_a_bad_url_is_one_line_at_once_and_never_shows_the_password(url: object, message: str) -> None:
    assert callable(url)
    started = time.monotonic()
    result = cli("status", DATABASE_URL=str(url()), DB_CONNECT_TIMEOUT="60")
    elapsed = time.monotonic() - started

    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: "), line
    assert message in line, line
    for piece in PIECES:
        assert piece not in result.stdout + result.stderr
    # Not retried for DB_CONNECT_TIMEOUT: none of these fixes itself.
    assert elapsed < 30


@pytest.mark.parametrize(
    "query",
    ["?connect_timeout=10", "?application_name=auth-report&connect_timeout=5", "?sslmode=disable"],
)
def test_libpq_options_pass_through(query: str) -> None:
    result = cli("status", DATABASE_URL=server_url(query))

    assert result.returncode == 0, result.stderr
    assert "Completed:" in result.stdout


def test_a_percent_encoded_password_is_read_and_never_shown() -> None:
    # The trusting test server ignores the password; what matters is that it parses and stays hidden.
    result = cli("status", DATABASE_URL=server_url(password=quote(PASSWORD, safe="")))

    assert result.returncode == 0, result.stderr
    for piece in PIECES:
        assert piece not in result.stdout + result.stderr
