"""The Citus cluster the tenant tests also run on (CITUS_TEST_URL), and a
fresh shared schema on either test server.

Without CITUS_TEST_URL the Citus tests are skipped with the reason, unless
REQUIRE_CITUS=1, where a missing cluster fails the run (as in CI). The README
says how to start a local cluster.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from {{ cookiecutter.package_name }}.database.postgresql_target import PostgresTarget
from {{ cookiecutter.package_name }}.database.target import parse_database_url
from helpers_postgresql import missing, postgres_schema_target, postgres_server


def citus_server() -> PostgresTarget:
    """The Citus coordinator named by CITUS_TEST_URL, or a skip (a failure when
    REQUIRE_CITUS=1). The README says how to start a local cluster."""
    url = os.environ.get("CITUS_TEST_URL", "")
    if not url:
        missing("CITUS_TEST_URL is unset: the Citus tests need a cluster's coordinator", "REQUIRE_CITUS")
    target = parse_database_url(url)
    assert isinstance(target, PostgresTarget), "CITUS_TEST_URL must be a postgresql:// URL"
    return target


# Every tenant test runs on a plain PostgreSQL server and on a Citus cluster,
# where each tenant schema is a distributed schema on one of its workers.
SERVERS: Final = ("postgresql", "citus")


@contextmanager
def shared_schema_on(server: str) -> Iterator[PostgresTarget]:
    """A fresh shared schema (where the tenant registry lives) on `server`."""
    if server == "citus":
        with postgres_schema_target(citus_server(), required_by="REQUIRE_CITUS", what="Citus") as target:
            yield target
    else:
        with postgres_schema_target(postgres_server()) as target:
            yield target
