"""Render the template's hooks the way a bake does, with cookiecutter's own Jinja environment.

The hooks hold Jinja, so they are only Python after rendering: the unit tests
import rendered copies, and `make lint` checks rendered copies with
`python tests/hook_rendering.py DIRECTORY`.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

from cookiecutter.environment import StrictEnvironment

TEMPLATE_ROOT = Path(__file__).resolve().parent.parent
HOOK_NAMES = ("pre_gen_project", "post_gen_project")
DEFAULT_ANSWERS: dict[str, str] = {
    "service_name": "Auth Service",
    "service_slug": "auth-service",
    "package_name": "auth_service",
    "database": "postgresql+sqlite",
    "tenancy": "single",
}
_module_numbers = itertools.count()


def render_hook(name: str, answers: Mapping[str, str]) -> str:
    """The Python source that cookiecutter would run for hook `name` with these answers."""
    source = (TEMPLATE_ROOT / "hooks" / f"{name}.py").read_text(encoding="utf-8")
    context = {"cookiecutter": dict(answers)}
    environment = StrictEnvironment(context=context, keep_trailing_newline=True)
    return str(environment.from_string(source).render(**context))


def import_hook(name: str, answers: Mapping[str, str], directory: Path) -> ModuleType:
    """Hook `name` rendered with `answers` (over DEFAULT_ANSWERS), written into
    `directory` and imported, under a name of its own."""
    number = next(_module_numbers)
    path = directory / f"{name}_{number}.py"
    path.write_text(render_hook(name, {**DEFAULT_ANSWERS, **answers}), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"rendered_{name}_{number}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_rendered_hooks(directory: Path, answers: Mapping[str, str] = DEFAULT_ANSWERS) -> dict[str, Path]:
    """Write every rendered hook into `directory`; returns hook name -> file."""
    directory.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name in HOOK_NAMES:
        target = directory / f"{name}.py"
        target.write_text(render_hook(name, answers), encoding="utf-8")
        written[name] = target
    return written


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: python {sys.argv[0]} DIRECTORY")
    for path in write_rendered_hooks(Path(sys.argv[1])).values():
        print(path)
