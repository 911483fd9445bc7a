"""The service's command line: `python -m {{ cookiecutter.package_name }} <command>`.

Every Makefile target is a thin call of one of these commands, so they work
without make too. Errors are printed as one line, and the exit code is 1; the
line ends with the make command that fixes the error, when it names one
(remedies.py).

The core commands are in commands.py. Every other module of this folder is
an extension: its `extend(commands)` adds commands and options of its own,
and may wrap a core command. A generated project has only the extensions it
uses.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Iterator, Sequence
from typing import Protocol, cast

from ..config import load_settings
from ..errors import ServiceError
from ..logging_setup import configure_logging
from .commands import Command, Commands, add_core_commands
from .remedies import error_line, phrase_remedies_in_logs

CORE_MODULES = ("main", "commands", "remedies", "reports")


class Extension(Protocol):
    def extend(self, commands: Commands) -> None: ...


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="{{ cookiecutter.package_name }}", description=__doc__)
    commands = Commands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    add_core_commands(commands)
    for extension in _extensions():
        extension.extend(commands)
    return parser


def _extensions() -> Iterator[Extension]:
    package = importlib.import_module(__package__ or __name__)
    for name in sorted(info.name for info in pkgutil.iter_modules(package.__path__)):
        if name not in CORE_MODULES:
            yield cast(Extension, importlib.import_module(f"{package.__name__}.{name}"))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(settings)
        phrase_remedies_in_logs()
        handler: Command = args.handler
        return handler(args, settings)
    except ServiceError as error:
        print(error_line(error), file=sys.stderr)
        logging.getLogger(__name__).debug("command failed", exc_info=True)
        return 1
    except KeyboardInterrupt:
        # The transaction of a migration in progress never committed, so the
        # server rolled it back; the locks died with the connection.
        print(
            "error: interrupted; a migration in progress was rolled back with its transaction "
            "(one marked transactional: false keeps the statements it finished); run the command again",
            file=sys.stderr,
        )
        return 130
