"""Seed modules, run in file-name order by `make seed-run`."""
