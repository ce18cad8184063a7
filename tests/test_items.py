"""Shaping suggestions into completion-menu and inline items (lsp_server/items.py)."""

from __future__ import annotations

from lsp_server.items import SelectedItem, accept_selected, extend_selected


def test_accept_selected_replaces_the_item_range_and_moves_the_cursor() -> None:
    text = "if pre\nx = 1\n"
    item = SelectedItem(3, 6, "preprocessor")
    assert accept_selected(text, 6, item) == ("if preprocessor\nx = 1\n", 15)
    # A replace range reaching past the cursor (VS Code's "replace" mode).
    assert accept_selected("if prexy", 6, SelectedItem(3, 8, "preprocessor")) == ("if preprocessor", 15)
    assert accept_selected(text, 6, SelectedItem(3, 5, "pr")) is None  # ends before the cursor
    assert accept_selected(text, 6, SelectedItem(3, 9, "p")) is None  # crosses a line
    assert accept_selected(text, 6, SelectedItem(7, 8, "p")) is None  # starts after the cursor


def test_extend_selected() -> None:
    item = SelectedItem(3, 6, "preprocessor")
    assert extend_selected([" is None:", " "], item) == ["preprocessor is None:"]
    assert extend_selected([], item) == []
