"""Check the answers before cookiecutter writes anything.

Cookiecutter renders this file with Jinja and then runs it. The answers arrive
as one JSON document inside a raw string: Jinja's tojson escapes every quote
and backslash, so no answer can end the string or become Python source.
"""

from __future__ import annotations

import json
import keyword
import re
import sys
from collections.abc import Mapping

# The document starts with "{" and ends with "}". A bare JSON string would put
# its closing quote right before the closing triple quote and end the literal early.
ANSWERS_JSON = r"""
{{- {
    "service_name": cookiecutter.service_name,
    "service_slug": cookiecutter.service_slug,
    "package_name": cookiecutter.package_name,
    "database": cookiecutter.database,
    "tenancy": cookiecutter.tenancy,
} | tojson(indent=4) }}
"""

SLUG_PATTERN = r"^[a-z][a-z0-9-]*$"
PACKAGE_PATTERN = r"^[a-z][a-z0-9_]*$"
CHOICES: dict[str, tuple[str, ...]] = {
    "database": ("postgresql+sqlite", "postgresql", "sqlite"),
    "tenancy": ("single", "schema-per-tenant"),
}
# The service writes its name into TOML and Python string literals, where a
# quote or a backslash would end or escape the literal.
NAME_FORBIDDEN = ('"', "\\")


def read_answers(document: str = ANSWERS_JSON) -> dict[str, str]:
    """The answers as strings, from the JSON document cookiecutter rendered."""
    loaded: dict[str, object] = json.loads(document)
    return {key: str(value) for key, value in loaded.items()}


def _check_service_name(name: str) -> list[str]:
    if not name.strip():
        return [f"service_name {name!r} must not be empty"]
    if not name.isprintable() or any(char in name for char in NAME_FORBIDDEN):
        return [f"service_name {name!r} must be one printable line without '\"' or '\\'"]
    return []


def _check_slug(slug: str) -> list[str]:
    if re.fullmatch(SLUG_PATTERN, slug) is None:
        return [f"service_slug {slug!r} must match {SLUG_PATTERN}"]
    return []


def _check_package_name(package: str) -> list[str]:
    if re.fullmatch(PACKAGE_PATTERN, package) is None or not package.isidentifier():
        return [f"package_name {package!r} must match {PACKAGE_PATTERN}"]
    if keyword.iskeyword(package):
        return [f"package_name {package!r} is a Python keyword"]
    return []


def _check_choices(answers: Mapping[str, str]) -> list[str]:
    errors = [
        f"{variable} {answers.get(variable, '')!r} must be one of {', '.join(choices)}"
        for variable, choices in CHOICES.items()
        if answers.get(variable) not in choices
    ]
    if answers.get("database") == "sqlite" and answers.get("tenancy") == "schema-per-tenant":
        errors.append(
            "tenancy 'schema-per-tenant' with database 'sqlite': schema-per-tenant needs PostgreSQL; "
            "choose database=postgresql or postgresql+sqlite"
        )
    return errors


def validate(answers: Mapping[str, str]) -> list[str]:
    """Every problem with the answers, each naming the variable and its value; empty when valid."""
    return [
        *_check_service_name(answers.get("service_name", "")),
        *_check_slug(answers.get("service_slug", "")),
        *_check_package_name(answers.get("package_name", "")),
        *_check_choices(answers),
    ]


def main() -> int:
    errors = validate(read_answers())
    if errors:
        # One line, so that cookiecutter's own failure message stays next to it.
        print("ERROR: " + "; ".join(errors), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
