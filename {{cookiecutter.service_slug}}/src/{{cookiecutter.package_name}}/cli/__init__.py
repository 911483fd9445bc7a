"""The command line: `python -m {{ cookiecutter.package_name }} <command>`."""
