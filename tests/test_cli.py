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


def test_model_pull_without_the_hub_says_so_in_sentences(
    restore_logging: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    from lsp_server.cli import main

    monkeypatch.setenv("FIM_LSP_CACHE", str(tmp_path))  # nothing downloaded there
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # as when it is not installed
    assert main(["model", "pull", "qwen2.5-coder-0.5b"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("fim-lsp: huggingface_hub is not installed. Install fim-lsp with "), err
