"""The users repository: the same behaviour on every dialect.

Emails are unique case-insensitively (a unique index on lower(email)) and
looked up the same way. Every update moves updated_at. `User` carries no
password and no hash: callers check a password with `authenticate`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from .database.session import Row, Session, UniqueViolation, as_datetime
from .errors import DuplicateEmailError, ServiceError
from .passwords import hash_password, verify_password

COLUMNS: Final = (
    "id, email, name, is_active, email_verified, verification_token, "
    "verification_token_expires_at, last_login_at, created_at, updated_at"
)
MAX_LENGTH: Final = 255


class InvalidUserError(ServiceError):
    """An email or name the users table cannot hold."""


@dataclass(frozen=True)
class User:
    id: uuid.UUID
    email: str
    name: str
    is_active: bool
    email_verified: bool
    verification_token: str | None
    verification_token_expires_at: datetime | None
    last_login_at: datetime | None
    created_at: datetime
    updated_at: datetime


class UserRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def create(self, *, email: str, password: str, name: str) -> User:
        email, name = _checked_email(email), _checked_name(name)
        try:
            rows = self._session.execute(
                "INSERT INTO users (id, email, password_hash, name) VALUES (%s, %s, %s, %s) "  # noqa: S608
                f"RETURNING {COLUMNS}",
                (uuid.uuid4(), email, hash_password(password), name),
            )
        except UniqueViolation:
            raise DuplicateEmailError(f"a user with email {email!r} already exists") from None
        return _user(rows[0])

    def get_by_id(self, user_id: uuid.UUID) -> User | None:
        rows = self._session.execute(f"SELECT {COLUMNS} FROM users WHERE id = %s", (user_id,))  # noqa: S608
        return _user(rows[0]) if rows else None

    def get_by_email(self, email: str) -> User | None:
        rows = self._session.execute(
            f"SELECT {COLUMNS} FROM users WHERE lower(email) = lower(%s)",  # noqa: S608
            (email.strip(),),
        )
        return _user(rows[0]) if rows else None

    def update(
        self,
        user_id: uuid.UUID,
        *,
        email: str | None = None,
        name: str | None = None,
        password: str | None = None,
    ) -> User | None:
        changes: dict[str, object] = {}
        if email is not None:
            changes["email"] = _checked_email(email)
        if name is not None:
            changes["name"] = _checked_name(name)
        if password is not None:
            changes["password_hash"] = hash_password(password)
        try:
            return self._update(user_id, changes)
        except UniqueViolation:
            raise DuplicateEmailError(f"a user with email {email!r} already exists") from None

    def set_verification_token(self, user_id: uuid.UUID, token: str, expires_at: datetime) -> User | None:
        return self._update(
            user_id, {"verification_token": token, "verification_token_expires_at": expires_at}
        )

    def verify_email(self, token: str, *, now: datetime | None = None) -> User | None:
        """Mark the token's owner verified if the token exists and has not expired."""
        now = now or datetime.now(UTC)
        rows = self._session.execute(
            "UPDATE users SET email_verified = %s, verification_token = NULL, "  # noqa: S608
            "verification_token_expires_at = NULL, updated_at = %s "
            "WHERE verification_token = %s AND verification_token_expires_at > %s "
            f"RETURNING {COLUMNS}",
            (True, now, token, now),
        )
        return _user(rows[0]) if rows else None

    def authenticate(self, email: str, password: str) -> User | None:
        """The active user with this email and password, with the login recorded."""
        rows = self._session.execute(
            "SELECT id, password_hash FROM users WHERE lower(email) = lower(%s) AND is_active = %s",
            (email.strip(), True),
        )
        if not rows or not verify_password(rows[0][1], password):
            return None
        return self.record_login(_uuid(rows[0][0]))

    def record_login(self, user_id: uuid.UUID) -> User | None:
        return self._update(user_id, {"last_login_at": datetime.now(UTC)})

    def deactivate(self, user_id: uuid.UUID) -> User | None:
        return self._update(user_id, {"is_active": False})

    def _update(self, user_id: uuid.UUID, changes: dict[str, object]) -> User | None:
        # Column names come from this module only, never from the caller.
        assignments = [f"{column} = %s" for column in changes] + ["updated_at = %s"]
        rows = self._session.execute(
            f"UPDATE users SET {', '.join(assignments)} WHERE id = %s RETURNING {COLUMNS}",  # noqa: S608
            (*changes.values(), datetime.now(UTC), user_id),
        )
        return _user(rows[0]) if rows else None


def _checked_email(email: str) -> str:
    email = email.strip()
    local, at, domain = email.rpartition("@")
    if not at or not local or "." not in domain or len(email) > MAX_LENGTH:
        raise InvalidUserError(f"email {email!r} is not a valid address of at most {MAX_LENGTH} characters")
    return email


def _checked_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_LENGTH:
        raise InvalidUserError(f"name must be 1 to {MAX_LENGTH} characters")
    return name


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _optional_datetime(value: object) -> datetime | None:
    return None if value is None else as_datetime(value)


def _user(row: Row) -> User:
    return User(
        id=_uuid(row[0]),
        email=row[1],
        name=row[2],
        is_active=bool(row[3]),
        email_verified=bool(row[4]),
        verification_token=row[5],
        verification_token_expires_at=_optional_datetime(row[6]),
        last_login_at=_optional_datetime(row[7]),
        created_at=as_datetime(row[8]),
        updated_at=as_datetime(row[9]),
    )
