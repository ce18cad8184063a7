"""The command line's logging levels (tests/e2e/test_logging.py: what reaches stderr)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from lsp_server.cli import _setup_logging


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize(("verbose", "log_file", "level"), [
    (False, False, logging.WARNING),  # Neovim's lsp.log marks every stderr line [ERROR]
    (False, True, logging.INFO),
    (True, False, logging.DEBUG),
    (True, True, logging.DEBUG),
])
def test_log_levels(restore_logging: None, tmp_path: Path, verbose: bool, log_file: bool, level: int) -> None:
    _setup_logging(verbose, str(tmp_path / "fim-lsp.log") if log_file else None)
    assert logging.getLogger().level == level
