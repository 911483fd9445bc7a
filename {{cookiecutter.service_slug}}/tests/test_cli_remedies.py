"""An error's remedies: the engine names a command, the command line phrases it
as the make command a person types, and the Makefile has that target."""

from __future__ import annotations

import ast
import logging
import re
from collections.abc import Callable, Iterator

import pytest

from {{ cookiecutter.package_name }}.cli.main import build_parser
from {{ cookiecutter.package_name }}.cli.remedies import (
    RemedyLogFilter,
    error_line,
    make_targets,
    phrase_remedies_in_logs,
    typed,
)
from {{ cookiecutter.package_name }}.config import load_settings
from {{ cookiecutter.package_name }}.database.target import DatabaseTarget
from {{ cookiecutter.package_name }}.errors import INSTALL, MigrationError, Remedy, ServiceError
from {{ cookiecutter.package_name }}.logging_setup import configure_logging
from {{ cookiecutter.package_name }}.startup import prepare_database
from conftest import SOURCE_ROOT, settings_for

PACKAGE = "{{ cookiecutter.package_name }}"
MAKEFILE = SOURCE_ROOT.parent / "Makefile"
RULE = re.compile(r"^([a-z][a-z-]*):")


@pytest.fixture(autouse=True)
def commands() -> None:
    """Build the parser, as the command line does: it registers each command's target."""
    build_parser()


def recipes() -> dict[str, str]:
    """Each Makefile target's recipe, as text."""
    found: dict[str, str] = {}
    current: str | None = None
    for line in MAKEFILE.read_text(encoding="utf-8").splitlines():
        rule = RULE.match(line)
        if rule:
            current = rule.group(1)
            found[current] = ""
        elif line.startswith("\t") and current is not None:
            found[current] += line + "\n"
        else:
            current = None
    return found


def remedies_in_the_code() -> list[tuple[str, str, list[str]]]:
    """Every Remedy the package builds: where, the command, the argument names."""
    found = []
    for path in sorted((SOURCE_ROOT / PACKAGE).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Remedy":
                command = node.args[0]
                name = command.value if isinstance(command, ast.Constant) else ast.unparse(command)
                arguments = node.args[1] if len(node.args) > 1 else None
                keys = (
                    [ast.literal_eval(key) for key in arguments.keys if key]
                    if isinstance(arguments, ast.Dict)
                    else []
                )
                found.append((path.name, INSTALL if name == "INSTALL" else str(name), keys))
    return found


def test_every_command_has_the_makefile_target_that_calls_it_with_its_variables() -> None:
    recipe = recipes()

    for command, target in make_targets().items():
        assert target.name in recipe, f"{command}: no target {target.name} in the Makefile"
        if command != INSTALL:
            assert re.search(rf"\$\(CLI\) {command}(\s|$)", recipe[target.name]), (command, target)
        for variable in target.variables.values():
            assert f"$({variable}" in recipe[target.name], (command, variable)


def test_every_remedy_in_the_code_names_a_command_a_target_carries() -> None:
    found = remedies_in_the_code()
    targets = make_targets()

    assert found, "the engine names the commands that fix its errors"
    for where, command, arguments in found:
        assert command in targets, f"{where}: {command} has no Makefile target"
        assert set(arguments) <= set(targets[command].variables), (where, command, arguments)


def test_an_error_line_ends_with_the_make_command_of_each_remedy() -> None:
    error = MigrationError("2 things differ", Remedy("accept-migration", {"name": "0003_x"}, "record it"))

    assert error_line(error) == "error: 2 things differ; record it: make migrate-accept NAME=0003_x"
    assert error_line(ServiceError("no remedy")) == "error: no remedy"
    assert error_line(ServiceError("both", Remedy("migrate"), Remedy(INSTALL, purpose="install it"))) == (
        "error: both; fix: make migrate; install it: make install"
    )


def test_a_remedy_is_typed_as_make_arguments_quoted_for_the_shell() -> None:
    assert typed(Remedy("make-migration", {"name": "add avatar"})) == "make migrate-make NAME='add avatar'"
    assert typed(Remedy("rollback", {"all": None})) == "make migrate-rollback ALL=<all>"
    # No target carries it: the command line's own form.
    assert typed(Remedy("no-such-command", {"name": "x"})) == f"python -m {PACKAGE} no-such-command x"
    assert typed(Remedy("migrate", {"no_such_argument": "x"})) == f"python -m {PACKAGE} migrate x"


@pytest.fixture
def configured(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], Callable[[], list[str]]]]:
    """Configure logging as the command line does (during the test, when capsys
    captures); what it wrote to stderr. The root logger is restored after."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)

    def configure() -> Callable[[], list[str]]:
        configure_logging(load_settings({"LOG_FORMAT": "text", "LOG_LEVEL": "INFO"}, env_file=None))
        phrase_remedies_in_logs()
        return lambda: capsys.readouterr().err.splitlines()

    yield configure
    root.handlers[:], root.level = saved


def test_the_startup_warning_ends_with_the_make_command(
    target: DatabaseTarget, configured: Callable[[], Callable[[], list[str]]]
) -> None:
    read = configured()

    prepare_database(settings_for(target, AUTO_MIGRATE="false"))

    [line] = [line for line in read() if "AUTO_MIGRATE is off" in line]
    assert line.endswith("/ready answers 503 until they are applied; apply them: make migrate"), line


def test_a_log_line_is_phrased_once_whatever_the_handlers() -> None:
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "%d pending", (2,), None)
    vars(record)["remedies"] = (Remedy("migrate", purpose="apply them"),)

    assert RemedyLogFilter().filter(record)
    assert RemedyLogFilter().filter(record)
    assert record.getMessage() == "2 pending; apply them: make migrate"
