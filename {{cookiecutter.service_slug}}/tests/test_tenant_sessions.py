"""Request-time access per tenant: the users repository in one tenant's schema,
through a pool of one connection, so that any search_path left behind would
show up in the very next session."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from {{ cookiecutter.package_name }}.database.postgresql import PostgresSessionPool
from {{ cookiecutter.package_name }}.database.postgresql_target import PostgresTarget
from {{ cookiecutter.package_name }}.database.session import session_scope
from {{ cookiecutter.package_name }}.errors import DuplicateEmailError
from {{ cookiecutter.package_name }}.tenants.creation import create_tenant
from {{ cookiecutter.package_name }}.tenants.schemas import InvalidTenantIdError, UnknownTenantError, tenant_session
from {{ cookiecutter.package_name }}.users import UserRepository

pytest_plugins = ["helpers_tenants"]

NewTenantId = Callable[[str], str]


@pytest.fixture
def pool_of_one(shared_target: PostgresTarget) -> Iterator[PostgresSessionPool]:
    pool = PostgresSessionPool(shared_target, min_size=1, max_size=1)
    pool.open(wait=5)
    yield pool
    pool.close()


@pytest.fixture
def two_tenants(shared_target: PostgresTarget, new_tenant_id: NewTenantId) -> tuple[str, str]:
    first, second = new_tenant_id("first"), new_tenant_id("second")
    with session_scope(shared_target) as shared:
        create_tenant(shared, first)
        create_tenant(shared, second)
    return first, second


def current_schema(pool: PostgresSessionPool) -> str | None:
    with pool.session() as session:
        value = session.execute("SELECT current_schema()")[0][0]
        return None if value is None else str(value)


def test_each_tenant_sees_only_its_own_users(
    pool_of_one: PostgresSessionPool, two_tenants: tuple[str, str]
) -> None:
    first, second = two_tenants

    with tenant_session(pool_of_one, first) as session:
        created = UserRepository(session).create(email="Ada@Example.com", password="pw-123456", name="Ada")
    with tenant_session(pool_of_one, second) as session:
        in_second = UserRepository(session).get_by_email("ada@example.com")
    with tenant_session(pool_of_one, first) as session:
        in_first = UserRepository(session).get_by_email("ada@example.com")

    assert in_second is None
    assert in_first is not None
    assert in_first.id == created.id


def test_the_search_path_never_outlives_the_tenant_session(
    shared_target: PostgresTarget, pool_of_one: PostgresSessionPool, two_tenants: tuple[str, str]
) -> None:
    shared_schema = current_schema(pool_of_one)
    first, _ = two_tenants

    with tenant_session(pool_of_one, first) as session:
        assert session.execute("SELECT current_schema()") == [(f"tenant_{first}",)]
    after_commit = current_schema(pool_of_one)

    with pytest.raises(RuntimeError), tenant_session(pool_of_one, first):
        raise RuntimeError("the request failed")
    after_error = current_schema(pool_of_one)

    assert shared_schema is not None
    assert shared_schema.startswith("test_")
    assert after_commit == shared_schema
    assert after_error == shared_schema


def test_a_request_that_fails_leaves_nothing_in_the_tenant(
    pool_of_one: PostgresSessionPool, two_tenants: tuple[str, str]
) -> None:
    first, _ = two_tenants

    with pytest.raises(RuntimeError), tenant_session(pool_of_one, first) as session:
        UserRepository(session).create(email="gone@example.com", password="pw-123456", name="Gone")
        raise RuntimeError("the request failed after the insert")

    with tenant_session(pool_of_one, first) as session:
        assert UserRepository(session).get_by_email("gone@example.com") is None


def test_unknown_or_invalid_tenants_are_refused(
    pool_of_one: PostgresSessionPool, new_tenant_id: NewTenantId
) -> None:
    with (
        pytest.raises(UnknownTenantError, match="has no schema"),
        tenant_session(pool_of_one, new_tenant_id("ghost")),
    ):
        pass
    with pytest.raises(InvalidTenantIdError), tenant_session(pool_of_one, "x; DROP SCHEMA public"):
        pass


def test_a_duplicate_email_in_a_tenant_is_one_clear_error_and_leaves_the_first(
    pool_of_one: PostgresSessionPool, two_tenants: tuple[str, str]
) -> None:
    # On Citus the unique index is a shard's (users_email_idx_102008): the
    # repository goes by SQLSTATE 23505, never by the constraint's name.
    first, second = two_tenants
    with tenant_session(pool_of_one, first) as session:
        UserRepository(session).create(email="ada@example.com", password="pw-123456", name="Ada")

    with pytest.raises(DuplicateEmailError) as raised, tenant_session(pool_of_one, first) as session:
        UserRepository(session).create(email="ADA@example.com", password="pw-654321", name="Other Ada")
    with tenant_session(pool_of_one, second) as session:
        in_second = UserRepository(session).create(email="ada@example.com", password="pw-123456", name="Ada")
    with tenant_session(pool_of_one, first) as session:
        kept = UserRepository(session).get_by_email("ada@example.com")

    assert "ADA@example.com" in str(raised.value)
    assert len(str(raised.value).splitlines()) == 1
    assert kept is not None
    assert kept.name == "Ada"
    assert in_second.email == "ada@example.com"
