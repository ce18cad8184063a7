"""Hover and highlight requests taken as cursor reports (features/completion.py): to whom they
are offered, and that one right after an edit (the user typing) is ignored."""

from __future__ import annotations

import time
from typing import Any

from lsprotocol import types

from lsp_server.features.completion import CURSOR_REQUEST_QUIET_S, CompletionFeature

URI = "file:///work/demo/shapes.py"
AT = types.Position(3, 4)


def _feature(changed_ago: float | None) -> tuple[CompletionFeature, list[Any]]:
    """The feature's request logic alone: its cursor reports recorded instead of prewarmed."""
    feature = CompletionFeature.__new__(CompletionFeature)
    feature._changed_at = {} if changed_ago is None else {URI: time.monotonic() - changed_ago}
    reports: list[Any] = []
    feature._rest_at = lambda uri, line, character: reports.append((uri, line, character))  # type: ignore[method-assign]
    return feature, reports


def test_clients_that_ask_where_the_cursor_rests_are_offered_the_requests() -> None:
    for name in (None, "", "Eglot", "emacs", "vim-lsp"):  # eglot 1.9 and ALE send no clientInfo
        assert CompletionFeature.takes_cursor_requests(name), name
    for name in ("Visual Studio Code", "code-server", "Neovim", "helix", "Zed"):
        assert not CompletionFeature.takes_cursor_requests(name), name


def test_a_request_at_a_resting_cursor_is_a_cursor_report() -> None:
    for changed_ago in (None, CURSOR_REQUEST_QUIET_S + 0.5):
        feature, reports = _feature(changed_ago)
        feature.cursor_request(URI, AT)
        assert reports == [(URI, 3, 4)]


def test_a_request_right_after_an_edit_is_typing_and_ignored() -> None:
    feature, reports = _feature(0.2)
    feature.cursor_request(URI, AT)
    assert reports == []
