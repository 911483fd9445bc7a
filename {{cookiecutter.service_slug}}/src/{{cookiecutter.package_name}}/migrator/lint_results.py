"""What the migration linter works on and finds: the files, with how each
runs; squawk's problems; the report the command prints; and its error."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ServiceError


class LintError(ServiceError):
    """The linter could not run: squawk or its configuration is missing, or a file is."""


@dataclass(frozen=True)
class LintFile:
    """One SQL file, with how the runner runs it."""

    path: Path
    rollback: bool
    in_transaction: bool

    @property
    def shown(self) -> str:
        return shown(self.path)


@dataclass(frozen=True)
class Violation:
    file: str
    line: int
    column: int
    rule: str
    message: str
    help: str | None = None

    def __str__(self) -> str:
        advice = f" {self.help}" if self.help else ""
        return f"{self.file}:{self.line}:{self.column}: {self.rule}: {self.message}{advice}"


@dataclass(frozen=True)
class LintResult:
    linted: list[LintFile]
    violations: list[Violation]
    # Files squawk was not given, each with the reason.
    skipped: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.violations

    def report(self, scope: str) -> list[str]:
        """What the command prints: the files, each problem on one line, a summary."""
        lines = [f"Linting {len(self.linted)} file(s) with squawk ({scope}):"]
        lines += [f"  {file.shown}" for file in self.linted]
        lines += [f"  skipped {shown(path)}: {reason}" for path, reason in self.skipped]
        lines += [str(violation) for violation in self.violations]
        if self.passed:
            lines.append("No problems found.")
        else:
            files = len({violation.file for violation in self.violations})
            lines.append(
                f"{len(self.violations)} problem(s) in {files} file(s): see the migration guide's "
                "safe patterns (docs/migrations.md)"
            )
        return lines


def shown(path: Path) -> str:
    """The path relative to the working directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def read_text(path: Path) -> str:
    """A file the linter needs, or a LintError naming it."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise LintError(f"cannot read {shown(path)}: {error}") from None
