"""Fixtures shared by the template's regression suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hook_rendering import TEMPLATE_ROOT


@pytest.fixture
def template() -> Path:
    """The template directory, whatever directory pytest was started from."""
    return TEMPLATE_ROOT
