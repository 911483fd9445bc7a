"""Seed a demo user for development: demo@example.com / demo-password.

Running it again changes nothing: the user is looked up by email first.
"""

from __future__ import annotations

from ..database.session import Session
from ..users import UserRepository

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password"  # noqa: S105 - a development-only account


def run(session: Session) -> None:
    users = UserRepository(session)
    if users.get_by_email(DEMO_EMAIL) is None:
        users.create(email=DEMO_EMAIL, password=DEMO_PASSWORD, name="Demo User")
