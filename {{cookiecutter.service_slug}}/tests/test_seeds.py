"""Seeds: the demo user, created once however often the seeds run."""

from __future__ import annotations

import pytest

from {{ cookiecutter.package_name }}.database.session import Session
from {{ cookiecutter.package_name }}.migrator.runner import run_migrations
from {{ cookiecutter.package_name }}.seed_runner import SeedError, run_seeds
from {{ cookiecutter.package_name }}.users import UserRepository


def test_seeds_create_the_demo_user_with_a_real_hash_and_never_twice(session: Session) -> None:
    run_migrations(session)

    first = run_seeds(session, production=False)
    second = run_seeds(session, production=False)

    assert first == second == ["0001_demo_user"]
    rows = session.execute("SELECT email, password_hash FROM users")
    assert len(rows) == 1
    assert rows[0][0] == "demo@example.com"
    assert rows[0][1].startswith("$argon2id$")
    assert UserRepository(session).authenticate("demo@example.com", "demo-password") is not None


def test_seeds_refuse_to_run_in_production(session: Session) -> None:
    run_migrations(session)

    with pytest.raises(SeedError, match="production"):
        run_seeds(session, production=True)

    assert session.execute("SELECT count(*) FROM users") == [(0,)]
