"""The linter's configuration: the project's .squawk.toml, found where squawk
finds it, and the lists the command reads from it."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, Final

from .lint_results import LintError, read_text, shown

CONFIG_NAME: Final = ".squawk.toml"


@dataclass(frozen=True)
class LintConfig:
    path: Path
    # squawk's own settings, which the command reads too.
    excluded_paths: list[str]
    excluded_rules: list[str]

    def excludes(self, path: Path) -> bool:
        """Whether excluded_paths leaves the file out, matched as squawk matches it."""
        return any(
            fnmatch(shown(path), pattern) or fnmatch(path.name, pattern) for pattern in self.excluded_paths
        )


def read_config(path: Path | None = None) -> LintConfig:
    """The configuration at `path`, else the project's (find_config)."""
    path = path or find_config()
    try:
        settings = tomllib.loads(read_text(path))
    except tomllib.TOMLDecodeError as error:
        raise LintError(f"{shown(path)} is not valid TOML: {error}") from None
    return LintConfig(
        path,
        excluded_paths=_strings(settings, "excluded_paths", path),
        excluded_rules=_strings(settings, "excluded_rules", path),
    )


def find_config(start: Path | None = None) -> Path:
    """The project's .squawk.toml: at the root of the checkout this package runs
    from, else in the working directory or one of its parents (where squawk looks)."""
    # src/<package>/migrator/lint_config.py: three levels up is the checkout's root.
    checkout = list(Path(__file__).resolve().parents[3:4])
    directory = (start or Path.cwd()).resolve()
    for candidate in (*checkout, directory, *directory.parents):
        if (candidate / CONFIG_NAME).is_file():
            return candidate / CONFIG_NAME
    raise LintError(f"no {CONFIG_NAME} in {directory} or its parents: run the linter from the project's root")


def _strings(settings: dict[str, Any], key: str, config: Path) -> list[str]:
    value = settings.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise LintError(f"{key} in {shown(config)} has value {value!r}: expected a list of strings")
    return value
