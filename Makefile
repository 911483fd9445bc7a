# The template's own interface. On a fresh machine with only Python 3.11+ and
# make, the first target that needs the environment installs it: Poetry itself
# (into .tools/ when it is not on PATH), then the dev and service groups into .venv/.

.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
POETRY_VERSION ?= 2.2.1
# An absolute path, because `make demo` hands it down to the baked service's own Makefile.
ifndef POETRY
POETRY := $(or $(shell command -v poetry 2>/dev/null),$(CURDIR)/.tools/bin/poetry)
endif
export POETRY_VIRTUALENVS_IN_PROJECT ?= true

# Poetry reads PyPI's metadata through its JSON API, which some mirrors and
# caching proxies do not serve. The pypi-mirror plugin makes the Poetry we
# install read the standard simple index (PEP 503) instead, at the address pip
# is configured with (PIP_INDEX_URL, pip's config, or pip's default). Asking
# pip costs half a second, so only the recipes that run Poetry expand this.
POETRY_PLUGINS := poetry-plugin-pypi-mirror==0.6.5
PYPI_INDEX = $(or $(POETRY_PYPI_MIRROR_URL),$(PIP_INDEX_URL),$(shell $(PYTHON) -m pip config get global.index-url 2>/dev/null),$(shell $(PYTHON) -c "from pip._internal.models.index import PyPI; print(PyPI.simple_url)" 2>/dev/null))
WITH_POETRY = POETRY_PYPI_MIRROR_URL="$(PYPI_INDEX)" $(POETRY)

ENVIRONMENT := .venv/.installed
DEMO_DIR := build
# The slug that cookiecutter.json derives from the default service name.
DEMO_SLUG := auth-service
RENDERED_HOOKS := build/rendered-hooks

.PHONY: help lock install demo test lint bench bench-tenants clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(CURDIR)/.tools/bin/poetry:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet "poetry==$(POETRY_VERSION)" $(POETRY_PLUGINS)

$(ENVIRONMENT): pyproject.toml $(wildcard poetry.lock) | $(POETRY)
	$(WITH_POETRY) install --no-root --with dev,service
	@touch $@

# A bake ships a poetry.lock, so that its first `make install` installs pinned
# versions instead of resolving on the user's machine. The post-gen hook keeps
# locks/<database>.lock as poetry.lock: one per database answer, since tenancy
# changes no dependency. Each is locked in a scratch bake with the Poetry the
# baked Makefile pins (ours in .tools/, even with another Poetry on PATH), and
# starting from the lock it replaces, so that, as with poetry.lock, only what a
# change of the baked pyproject.toml needs moves.
BAKED_LOCKS := {{cookiecutter.service_slug}}/locks
LOCK_BAKES := build/lock-bakes
LOCK_DATABASES = $(shell $(PYTHON) -c "import json; print(*json.load(open('cookiecutter.json'))['database'])")
WITH_PINNED_POETRY = POETRY_PYPI_MIRROR_URL="$(PYPI_INDEX)" $(CURDIR)/.tools/bin/poetry

lock: | $(POETRY) $(CURDIR)/.tools/bin/poetry ## Update poetry.lock and each bake's lock after changing a pyproject.toml
	$(WITH_POETRY) lock
	@# Baking needs cookiecutter, from the environment the new poetry.lock describes.
	$(MAKE) --no-print-directory install
	rm -rf "$(LOCK_BAKES)"
	mkdir -p "$(BAKED_LOCKS)"
	@# A database answer with no lock yet gets an empty one to bake with, which
	@# the scratch bake drops so that Poetry resolves it from scratch.
	set -e; for database in $(LOCK_DATABASES); do \
		lock="$(BAKED_LOCKS)/$$database.lock"; \
		test -e "$$lock" || touch "$$lock"; \
		$(POETRY) run cookiecutter --no-input --output-dir "$(LOCK_BAKES)/$$database" . database="$$database"; \
		project="$(LOCK_BAKES)/$$database/$(DEMO_SLUG)"; \
		find "$$project/poetry.lock" -empty -delete; \
		$(WITH_PINNED_POETRY) --directory "$$project" lock; \
		cp "$$project/poetry.lock" "$$lock"; \
	done
	rm -rf "$(LOCK_BAKES)"

install: $(ENVIRONMENT) ## Install Poetry (if needed) and the template's tooling

demo: $(ENVIRONMENT) ## Bake the default service into build/ and run its migrations
	rm -rf "$(DEMO_DIR)/$(DEMO_SLUG)"
	$(POETRY) run cookiecutter --no-input --overwrite-if-exists --output-dir "$(DEMO_DIR)" .
	$(MAKE) -C "$(DEMO_DIR)/$(DEMO_SLUG)" migrate POETRY="$(POETRY)"
	$(MAKE) -C "$(DEMO_DIR)/$(DEMO_SLUG)" migrate-status POETRY="$(POETRY)"

test: $(ENVIRONMENT) ## Run the regression suite (bakes every combination)
	$(POETRY) run pytest

lint: $(ENVIRONMENT) ## Run ruff and mypy --strict on the tests and on rendered hooks
	$(POETRY) run ruff check tests benchmarks
	$(POETRY) run ruff format --check tests benchmarks
	$(POETRY) run mypy
	rm -rf $(RENDERED_HOOKS)
	$(POETRY) run python tests/hook_rendering.py $(RENDERED_HOOKS)
	$(POETRY) run ruff check $(RENDERED_HOOKS)/*.py
	$(POETRY) run ruff format --check $(RENDERED_HOOKS)/*.py
	$(POETRY) run mypy --strict $(RENDERED_HOOKS)/*.py

bench: $(ENVIRONMENT) ## Print bake, migrate and no-op-check figures (needs the local PostgreSQL)
	$(POETRY) run python benchmarks/noop_check.py

bench-tenants: $(ENVIRONMENT) ## Print migrate-all figures for 1,000 tenants: ours, yoyo, raw floor (Citus with CITUS_TEST_URL; BASELINE=checkout; BOOKKEEPING=1)
	$(POETRY) run python benchmarks/tenant_migrations.py $(if $(TENANTS),--tenants $(TENANTS),) $(if $(ROUNDS),--rounds $(ROUNDS),) $(if $(BARE),--bare-schemas,) $(if $(BASELINE),--baseline $(BASELINE),) $(if $(BOOKKEEPING),--bookkeeping-floor,)

clean: ## Remove baked services, rendered hooks and caches (keeps .venv and .tools)
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
