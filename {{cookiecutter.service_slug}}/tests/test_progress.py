"""Progress of long runs: a bar redrawn on a terminal, periodic log lines elsewhere."""

from __future__ import annotations

import io
import logging

import pytest

from {{ cookiecutter.package_name }}.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_one_redrawn_bar_line() -> None:
    screen = Terminal()
    progress = Progress("Running seeds", stream=screen)

    progress.start(4)
    for failed in (False, True, False, False):
        progress.advance(failed=failed)
    progress.finish()

    frames = screen.getvalue().split("\r")
    assert frames[-1] == f"Running seeds [{'#' * 30}] 4/4 done, 1 failed\n"
    assert f"[{'#' * 15}{'-' * 15}] 2/4 done, 1 failed" in frames[3]
    assert screen.getvalue().count("\n") == 1


def test_elsewhere_it_logs_every_interval_and_the_final_count_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    log_file = io.StringIO()
    progress = Progress("Running seeds", stream=log_file, interval=0)

    progress.start(2)
    progress.advance()
    progress.advance(failed=True)
    progress.finish()

    assert log_file.getvalue() == ""
    assert [record.getMessage() for record in caplog.records] == [
        "Running seeds: 1/2 done",
        "Running seeds: 2/2 done, 1 failed",
    ]


def test_elsewhere_a_quick_run_logs_only_its_final_count(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    progress = Progress("Running seeds", stream=io.StringIO(), interval=3600)

    progress.start(3)
    for _ in range(3):
        progress.advance()
    progress.finish()

    assert [record.getMessage() for record in caplog.records] == ["Running seeds: 3/3 done"]
