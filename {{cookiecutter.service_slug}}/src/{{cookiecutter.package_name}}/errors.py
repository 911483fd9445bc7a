"""The errors this service reports to a person: each carries one clear line.

Every message names what was wrong (a variable, a file, a migration) and never
contains a password; the CLI and the startup runner print `str(error)` as is.
"""


class ServiceError(Exception):
    """Base class: an error whose message is fit to show to an operator."""


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
