"""The users repository behaves the same on every dialect."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from {{ cookiecutter.package_name }}.database.session import Session
from {{ cookiecutter.package_name }}.errors import DuplicateEmailError
from {{ cookiecutter.package_name }}.migrator.runner import run_migrations
from {{ cookiecutter.package_name }}.users import InvalidUserError, User, UserRepository

PASSWORD = "correct horse battery staple"


@pytest.fixture
def users(session: Session) -> Iterator[UserRepository]:
    run_migrations(session)
    yield UserRepository(session)


@pytest.fixture
def ada(users: UserRepository) -> User:
    return users.create(email="Ada@Example.com", password=PASSWORD, name="Ada Lovelace")


def stored_hash(session: Session, user_id: uuid.UUID) -> str:
    [(password_hash,)] = session.execute("SELECT password_hash FROM users WHERE id = %s", (user_id,))
    assert isinstance(password_hash, str)
    return password_hash


def test_create_stores_an_argon2_hash_never_the_password(session: Session, ada: User) -> None:
    password_hash = stored_hash(session, ada.id)

    assert password_hash.startswith("$argon2id$")
    assert PASSWORD not in password_hash
    assert PASSWORD not in repr(ada)
    assert ada.is_active
    assert not ada.email_verified
    assert ada.created_at.tzinfo is not None


def test_email_is_unique_whatever_its_case(users: UserRepository, ada: User) -> None:
    with pytest.raises(DuplicateEmailError, match="already exists"):
        users.create(email="ada@EXAMPLE.com", password=PASSWORD, name="Impostor")


def test_get_by_email_ignores_case_and_get_by_id_finds_the_same_user(
    users: UserRepository, ada: User
) -> None:
    assert users.get_by_email("ADA@example.COM") == ada
    assert users.get_by_id(ada.id) == ada
    assert users.get_by_id(uuid.uuid4()) is None
    assert users.get_by_email("nobody@example.com") is None


def test_update_changes_fields_and_moves_updated_at(users: UserRepository, ada: User) -> None:
    updated = users.update(ada.id, name="Countess of Lovelace", email="countess@example.com")

    assert updated is not None
    assert updated.name == "Countess of Lovelace"
    assert updated.email == "countess@example.com"
    assert updated.updated_at > ada.updated_at
    assert updated.created_at == ada.created_at


def test_update_to_a_taken_email_is_refused(users: UserRepository, ada: User) -> None:
    grace = users.create(email="grace@example.com", password=PASSWORD, name="Grace Hopper")

    with pytest.raises(DuplicateEmailError):
        users.update(grace.id, email="ADA@example.com")


def test_verify_email_accepts_a_live_token_once(users: UserRepository, ada: User) -> None:
    users.set_verification_token(ada.id, "token-1", datetime.now(UTC) + timedelta(hours=1))

    verified = users.verify_email("token-1")

    assert verified is not None
    assert verified.email_verified
    assert verified.verification_token is None
    assert users.verify_email("token-1") is None


def test_verify_email_refuses_an_expired_token(users: UserRepository, ada: User) -> None:
    users.set_verification_token(ada.id, "token-2", datetime.now(UTC) - timedelta(seconds=1))

    assert users.verify_email("token-2") is None
    current = users.get_by_id(ada.id)
    assert current is not None
    assert not current.email_verified


def test_authenticate_checks_the_password_and_records_the_login(users: UserRepository, ada: User) -> None:
    assert users.authenticate("ada@example.com", "wrong password") is None

    user = users.authenticate("ADA@example.com", PASSWORD)

    assert user is not None
    assert user.last_login_at is not None
    assert ada.last_login_at is None


def test_deactivated_user_cannot_authenticate(users: UserRepository, ada: User) -> None:
    deactivated = users.deactivate(ada.id)

    assert deactivated is not None
    assert not deactivated.is_active
    assert users.authenticate("ada@example.com", PASSWORD) is None


def test_password_update_replaces_the_hash(session: Session, users: UserRepository, ada: User) -> None:
    before = stored_hash(session, ada.id)

    users.update(ada.id, password="a new password")

    assert stored_hash(session, ada.id) != before
    assert users.authenticate("ada@example.com", PASSWORD) is None
    assert users.authenticate("ada@example.com", "a new password") is not None


@pytest.mark.parametrize("email", ["not-an-email", "@example.com", "a@b", "x" * 250 + "@example.com"])
def test_invalid_emails_are_refused_before_the_database(users: UserRepository, email: str) -> None:
    with pytest.raises(InvalidUserError, match="email"):
        users.create(email=email, password=PASSWORD, name="Someone")
