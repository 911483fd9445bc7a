"""The errors this service reports to a person: each carries one clear line.

Every message names what was wrong (a variable, a file, a migration) and never
contains a password. An error may also carry remedies: which command of the
command line fixes it (or shows more), with which arguments. The engine only
names the command; the command line prints the message and phrases each
remedy as the command a person types, on the same line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

# Not a command of the command line: installing the project with its
# development tools, which the command line cannot do for itself.
INSTALL: Final = "install"


@dataclass(frozen=True)
class Remedy:
    """A command that fixes an error, or shows more of it.

    `command` is the name of a command of the command line (`migrate`,
    `accept-migration`, ...) or INSTALL; `arguments` gives the value of each of
    its arguments by parameter name (None: a value the person chooses);
    `purpose` says what running it does, in a few words ("create it").
    """

    command: str
    arguments: Mapping[str, str | None] = field(default_factory=dict)
    purpose: str = "fix"


class ServiceError(Exception):
    """Base class: an error whose message is fit to show to an operator.

    `str(error)` is the message: what is wrong. `remedies` are the commands
    that fix it, in the order to show them."""

    def __init__(self, message: str, *remedies: Remedy) -> None:
        super().__init__(message)
        self.remedies: tuple[Remedy, ...] = remedies


class ConfigError(ServiceError):
    """A configuration variable is missing, malformed or unsafe."""


class DatabaseUnavailableError(ServiceError):
    """The database could not be reached within the configured wait."""


class MigrationError(ServiceError):
    """A migration failed; nothing of it was applied."""


class MigrationLockTimeoutError(ServiceError):
    """Another process held the migration lock for longer than we would wait."""


class DuplicateEmailError(ServiceError):
    """A user with this email (compared case-insensitively) already exists."""


def first_line(error: BaseException) -> str:
    """An error's first line, for one-line reports."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def code_error(error: BaseException) -> str:
    """Why a Python file (a migration, a seed) could not be loaded, in one line:
    the line number of a syntax error, else the exception's type and first line."""
    if isinstance(error, SyntaxError):
        return f"syntax error on line {error.lineno}: {error.msg}"
    return f"{type(error).__name__}: {first_line(error)}"
