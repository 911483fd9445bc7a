"""An error's remedies, phrased as the make command a person types.

Every Makefile target is a thin call of one command. Each command is added
with its MakeTarget (`Commands.add(..., make=...)`): the target that calls it,
and the make variable that carries each of its arguments. The engine's errors
name a command and its arguments (errors.Remedy); this module turns that into
`make migrate-accept NAME=0003_x` and ends the error's one line with it, as it
ends a log line that carries remedies (`extra={"remedies": ...}`).
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ..errors import INSTALL, Remedy, ServiceError

# `python -m <package>`, for a command no target calls.
PROGRAM = __name__.split(".")[0]


@dataclass(frozen=True)
class MakeTarget:
    """The Makefile target that calls a command, and the make variable of each
    of the command's arguments (by parameter name)."""

    name: str
    variables: Mapping[str, str] = field(default_factory=dict)


# Filled as the commands are added; installing is the Makefile's own step.
_TARGETS: dict[str, MakeTarget] = {INSTALL: MakeTarget("install")}


def register(command: str, target: MakeTarget) -> None:
    _TARGETS[command] = target


def add_variable(command: str, argument: str, variable: str) -> None:
    """An argument that an extension adds to a command, and its make variable."""
    target = _TARGETS[command]
    _TARGETS[command] = MakeTarget(target.name, {**target.variables, argument: variable})


def make_targets() -> Mapping[str, MakeTarget]:
    """Each command's target, as registered so far."""
    return MappingProxyType(_TARGETS)


def typed(remedy: Remedy) -> str:
    """What a person types: `make <target> VARIABLE=value ...`; the command
    line's own form for a command (or an argument) no target carries."""
    target = _TARGETS.get(remedy.command)
    if target is not None and set(remedy.arguments) <= set(target.variables):
        assignments = [
            f"{target.variables[argument]}={_value(argument, value)}"
            for argument, value in remedy.arguments.items()
        ]
        return " ".join(["make", target.name, *assignments])
    values = [_value(argument, value) for argument, value in remedy.arguments.items()]
    return " ".join(["python -m", PROGRAM, remedy.command, *values])


def advice(remedies: Iterable[Remedy]) -> str:
    """The remedies as they end a line: `; record it: make migrate-accept NAME=0003_x`."""
    return "".join(f"; {remedy.purpose}: {typed(remedy)}" for remedy in remedies)


def error_line(error: ServiceError) -> str:
    """The one line the command line prints for an error."""
    return f"error: {error}{advice(error.remedies)}"


class RemedyLogFilter(logging.Filter):
    """Ends a log line that carries remedies with them (see `advice`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        remedies: tuple[Remedy, ...] = getattr(record, "remedies", ())
        if remedies:
            record.msg = record.getMessage() + advice(remedies)
            record.args = None
            # Phrased once, whichever handlers the line goes on to.
            vars(record)["remedies"] = ()
        return True


def phrase_remedies_in_logs() -> None:
    """Every handler of the root logger phrases the remedies its lines carry."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(RemedyLogFilter())


def _value(argument: str, value: str | None) -> str:
    # None: a value the person chooses.
    return f"<{argument}>" if value is None else shlex.quote(value)
