"""`python -m {{ cookiecutter.package_name }}` runs the command-line interface."""

from .cli.main import main

raise SystemExit(main())
