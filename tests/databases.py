"""Scratch PostgreSQL databases for the tests that drive a baked service whole."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def fresh_database(prefix: str) -> Iterator[str]:
    """A new database on the TEST_DATABASE_URL server, dropped afterwards; its URL."""
    server = os.environ.get("TEST_DATABASE_URL", DEFAULT_SERVER)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server.rpartition('/')[0]}/{name}"
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def citus_coordinator() -> str:
    """CITUS_TEST_URL, the coordinator of a Citus cluster; a skip without it,
    or a failure with REQUIRE_CITUS=1 (as in CI)."""
    url = os.environ.get("CITUS_TEST_URL", "")
    if not url:
        reason = "CITUS_TEST_URL is unset: the Citus tests need a cluster's coordinator (see the README)"
        if os.environ.get("REQUIRE_CITUS") == "1":
            pytest.fail(f"REQUIRE_CITUS=1 but {reason}")
        pytest.skip(reason)
    return url


@contextmanager
def fresh_schema(server: str, prefix: str) -> Iterator[str]:
    """A new schema on `server`, dropped afterwards; a URL whose search path is that schema.

    On a Citus cluster a fresh database would need the extension and the
    nodes registered in it; a fresh schema of the coordinator's database needs
    neither."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{name}"')
    try:
        separator = "&" if "?" in server else "?"
        yield f"{server}{separator}options=-c%20search_path%3D{name}"
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
