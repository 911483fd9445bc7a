"""The machinery of the table-driven bad-input suite: one `Row` per bad input.

Each row is run as an operator would meet it: the service's command line in a
child process, on a fresh database of one dialect, against a copy of the
package (so a row may add or break migration and seed files). Every row must
end with the exit code it names, exactly one line on stderr that names what
was wrong, the database and the files as they were before the command, and a
password made of every character a URL treats specially appearing nowhere: not
in stdout, not in stderr, not in the logs (the command logs at DEBUG, as JSON,
so every log record is checked too and cannot be mistaken for the error line).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import shutil
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import pytest

from {{ cookiecutter.package_name }}.database.session import session_scope
from {{ cookiecutter.package_name }}.database.target import DatabaseTarget, Dialect, supported_dialects
from conftest import SOURCE_ROOT, cli, dialect_helpers, make_target

# Every character with a meaning in a URL: a password made of them must be
# percent-encoded to work, and must never be shown, encoded or not.
PASSWORD = "S3c/r#t?@:%x"
ENCODED_PASSWORD = quote(PASSWORD, safe="")
PACKAGE = "{{ cookiecutter.package_name }}"


@dataclass(frozen=True)
class Row:
    """One bad input. Text in `env`, `args`, `names`, `files` and `sql` may use
    {url} (the fresh database's URL, carrying the password where the dialect
    has one), {password}, {encoded} (the password percent-encoded), {dialect},
    what the dialect's helpers add (helpers_<dialect>.bad_input_values: a
    server's {server}, {host}, {port} and {dbname}, a file's {file}), and what
    an option's `RowExtension` adds."""

    id: str
    args: tuple[str, ...]
    # What the one line on stderr must contain: the name of what was wrong
    # (a variable, a file, a migration...).
    names: str
    env: Mapping[str, str] = field(default_factory=dict)
    # None: every dialect the service has.
    dialects: tuple[Dialect, ...] | None = None
    # Dialects the service must have been generated with for the row to apply.
    needs: tuple[Dialect, ...] = ()
    # Files written into the package copy before `before` runs (a path
    # relative to the package; None removes the file).
    files: Mapping[str, str | None] = field(default_factory=dict)
    # Commands that must succeed before the row's command (e.g. migrate first).
    before: tuple[tuple[str, ...], ...] = ()
    # Files changed after `before`, just ahead of the row's command.
    later_files: Mapping[str, str | None] = field(default_factory=dict)
    # Statements run on the fresh database before anything else.
    sql: tuple[str, ...] = ()
    # A condition held while the command runs, named for the dialect's helpers
    # (helpers_<dialect>.held), e.g. a write transaction left open on a file.
    hold: str | None = None
    exit_code: int = 1

    def runs_on(self) -> list[Dialect]:
        """The dialects this row runs on, in a service generated with `supported_dialects()`."""
        supported = supported_dialects()
        if not set(self.needs) <= set(supported):
            return []
        return [dialect for dialect in self.dialects or supported if dialect in supported]


class RowExtension(Protocol):
    """What an option adds to every row: values for its text, state that must
    not change, and a clean-up. An option's helpers_<option>.py offers one as
    ROW_EXTENSION; the generator removes that module with the option."""

    def values(self) -> dict[str, str]: ...

    def state(self, target: DatabaseTarget, values: Mapping[str, str]) -> object: ...

    def clean_up(self, target: DatabaseTarget, values: Mapping[str, str]) -> None: ...


@dataclass(frozen=True)
class Place:
    """Where a row runs: a fresh database and the values its text may use."""

    target: DatabaseTarget
    values: dict[str, str]

    def fill(self, text: str) -> str:
        return text.format(**self.values)


def cases(rows: list[Row]) -> list[Any]:
    """One test case per row and dialect it runs on in this service."""
    return [
        pytest.param(row, dialect, id=f"{row.id}[{dialect}]") for row in rows for dialect in row.runs_on()
    ]


@cache
def extensions() -> tuple[RowExtension, ...]:
    """The ROW_EXTENSION of every helpers_<option>.py beside this module."""
    modules = (
        importlib.import_module(path.stem) for path in sorted(Path(__file__).parent.glob("helpers_*.py"))
    )
    return tuple(module.ROW_EXTENSION for module in modules if hasattr(module, "ROW_EXTENSION"))


def run_row(row: Row, dialect: Dialect, tmp_path: Path) -> None:
    """Run `row` on a fresh `dialect` database and assert everything it promises."""
    package = Path(
        shutil.copytree(SOURCE_ROOT, tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    )
    with make_target(dialect, tmp_path) as target:
        place = _place(target)
        try:
            _run(row, place, package)
        finally:
            for extension in extensions():
                extension.clean_up(target, place.values)


def _run(row: Row, place: Place, package: Path) -> None:
    target, dialect = place.target, place.target.dialect
    env = {"PYTHONPATH": str(package), "DATABASE_URL": place.values["url"], "DB_PASSWORD": PASSWORD}
    for statement in row.sql:
        with session_scope(target) as session:
            session.execute(place.fill(statement))
    _write(package, row.files, place)
    for command in row.before:
        done = cli(*(place.fill(arg) for arg in command), **env)
        assert done.returncode == 0, f"{row.id}: {command} should succeed first: {done.stderr}"
    _write(package, row.later_files, place)
    env.update(LOG_LEVEL="DEBUG", LOG_FORMAT="json")
    env.update({name: place.fill(value) for name, value in row.env.items()})
    database_before, files_before = _database_state(place), _files(package)

    helpers = dialect_helpers(dialect)
    with nullcontext() if row.hold is None else helpers.held(row.hold, target):
        result = cli(*(place.fill(arg) for arg in row.args), **env)

    shown = f"{row.id} on {dialect}: exit {result.returncode}\nout: {result.stdout}\nerr: {result.stderr}"
    assert result.returncode == row.exit_code, shown
    lines = [line for line in result.stderr.splitlines() if not _is_log_record(line)]
    assert len(lines) == 1, shown
    assert place.fill(row.names) in lines[0], shown
    for secret in (PASSWORD, ENCODED_PASSWORD):
        assert secret not in result.stdout + result.stderr, shown
    assert _database_state(place) == database_before, f"{row.id} on {dialect} changed the database"
    assert _files(package) == files_before, f"{row.id} on {dialect} changed the package's files"


def _place(target: DatabaseTarget) -> Place:
    values = dialect_helpers(target.dialect).bad_input_values(target, ENCODED_PASSWORD)
    values.update(password=PASSWORD, encoded=ENCODED_PASSWORD, dialect=target.dialect)
    for extension in extensions():
        values.update(extension.values())
    return Place(target, values)


def _write(package: Path, files: Mapping[str, str | None], place: Place) -> None:
    for relative, content in files.items():
        path = package / PACKAGE / place.fill(relative)
        if content is None:
            path.unlink()
        else:
            path.write_text(content)


def _is_log_record(line: str) -> bool:
    """A JSON log record (LOG_FORMAT=json), as opposed to what the command printed."""
    if not line.startswith("{"):
        return False
    try:
        record = json.loads(line)
    except ValueError:
        return False
    return isinstance(record, dict) and "level" in record


def _database_state(place: Place) -> Any:
    """What the database holds: its tables, their columns, every migration
    record, and what each option's extension watches."""
    state = dialect_helpers(place.target.dialect).database_state(place.target)
    return state, [extension.state(place.target, place.values) for extension in extensions()]


def _files(package: Path) -> dict[str, str]:
    return {
        str(path.relative_to(package)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(package.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }
