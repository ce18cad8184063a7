"""Shaping suggestions into completion-menu and inline items (lsp_server/items.py)."""

from __future__ import annotations

import time

import pytest

from lsp_server.items import (
    MenuCaps,
    MenuItem,
    SelectedItem,
    accept_selected,
    extend_selected,
    menu_caps,
    menu_item,
    typed_word_start,
)

ONE_LINE = MenuCaps()
SNIPPETS = MenuCaps(snippets=True)
MULTILINE = MenuCaps(multiline=True)


def applied(line_before: str, item: MenuItem) -> str:
    """The cursor line up to the cursor once a client applied the item's edit."""
    return line_before[: item.start] + item.new_text


@pytest.mark.parametrize("caps", [ONE_LINE, SNIPPETS, MULTILINE])
def test_the_edit_covers_the_typed_word_and_the_label_starts_with_it(caps: MenuCaps) -> None:
    # eglot 1.9 got `if proprocessor` from an edit starting at the cursor; vim-lsp dropped the
    # item because its filterText did not start with the typed word.
    item = menu_item("processor is None:", "    if pre", caps)
    assert item is not None
    assert item.start == len("    if ")
    assert item.new_text == "preprocessor is None:"
    assert item.label == item.filter_text == "preprocessor is None:"
    assert applied("    if pre", item) == "    if preprocessor is None:"


def test_typed_word_start() -> None:
    assert typed_word_start("    if pre") == 7
    assert typed_word_start("x = foo.ba") == 8
    assert typed_word_start("    ") == 4
    assert typed_word_start("") == 0
    assert typed_word_start("naïve_ü") == 0  # unicode identifiers are words too


def test_typed_word_start_is_linear_in_the_line() -> None:
    # A search for r"\w+$" took 11 s for a 30,000-character run of word characters (a hex blob)
    # before the cursor's `"`, blocking the server's event loop.
    line = "a" * 20_000 + '"'
    dashes = "a-" * 10_000 + '"'
    started = time.perf_counter()
    assert typed_word_start(line) == len(line)
    assert typed_word_start(line[:-1]) == 0
    assert typed_word_start(line, dashed=True) == len(line)
    assert typed_word_start(dashes, dashed=True) == len(dashes)
    assert typed_word_start(dashes[:-1], dashed=True) == 0
    assert time.perf_counter() - started < 1.0


def test_in_neovim_the_typed_word_runs_over_dashes() -> None:
    # nvim-cmp and blink.cmp match all of `total-pre` against the filter text: an item whose
    # filter text started at `pre` was dropped from both menus.
    assert typed_word_start("x = total-pre") == 10
    assert typed_word_start("x = total-pre", dashed=True) == 4
    assert typed_word_start("    a--pre", dashed=True) == 4
    assert typed_word_start("y = x-", dashed=True) == 4
    assert typed_word_start("x = -pre", dashed=True) == 5  # a dash before the word is not in it
    assert typed_word_start("a = -", dashed=True) == 5
    item = menu_item("fix_len", "    return total-pre", menu_caps("Neovim", True))
    assert item == MenuItem("total-prefix_len", "total-prefix_len", 11, "total-prefix_len", snippet=True)
    plain = menu_item("fix_len", "    return total-pre", ONE_LINE)
    assert plain is not None and plain.start == 17 and plain.label == "prefix_len"


def test_one_line_clients_get_the_first_line_and_never_a_line_break() -> None:
    # vim-lsp writes the "\n" of a completion word into the file as a NUL byte.
    item = menu_item(" 0 == len(lines):\n        return 0", "    if", ONE_LINE)
    assert item == MenuItem("if 0 == len(lines):", "if 0 == len(lines):", 4, "if 0 == len(lines):")
    assert menu_item("\n    return 0", "    if x:", ONE_LINE) is None  # nothing for this line
    assert menu_item("\n    return 0", "    foo", ONE_LINE) is None  # would only repeat `foo`


@pytest.mark.parametrize("caps", [ONE_LINE, SNIPPETS, MULTILINE])
@pytest.mark.parametrize("bad", ["\0", "\r", "\x1b", "\x08"])
def test_no_item_carries_a_control_character(caps: MenuCaps, bad: str) -> None:
    assert menu_item(f"a{bad}b", "x = ", caps) is None


def test_crlf_line_breaks_become_plain_ones() -> None:
    item = menu_item("a\r\n    b", "x = ", MULTILINE)
    assert item is not None and item.new_text == "a\n    b"


def test_known_multiline_clients_get_the_whole_suggestion_as_plain_text() -> None:
    item = menu_item("(a, b):\n    return a $ b\n", "def add", MULTILINE)
    assert item == MenuItem("add(a, b):", "add(a, b):", 4, "add(a, b):\n    return a $ b\n", multiline=True)
    below = menu_item("\n    return 0", "    if x:", MULTILINE)
    assert below is not None and below.new_text == "\n    return 0" and below.label == "return 0"


def test_snippets_escape_and_indent_relative_to_the_cursor_line() -> None:
    # vim.snippet.expand (Neovim) adds the cursor line's indentation to each line after the first.
    item = menu_item(" x:\n        return '$1 {}' \\ 2\n    y = 1", "    if", SNIPPETS)
    assert item is not None and item.snippet
    assert item.label == item.filter_text == "if x:"
    assert item.new_text == "if x:\n    return '\\$1 {\\}' \\\\ 2\ny = 1"


def test_a_dedent_cannot_be_a_snippet_so_it_is_one_line() -> None:
    item = menu_item(" x\nfoo()", "    return", SNIPPETS)
    assert item == MenuItem("return x", "return x", 4, "return x", snippet=True)


def test_snippet_clients_get_a_one_line_snippet_so_neovim_inserts_the_whole_label() -> None:
    # Neovim inserts a plain textEdit's first word only; a snippet's label is inserted whole.
    item = menu_item(" is None:", "if x", SNIPPETS)
    assert item == MenuItem("x is None:", "x is None:", 3, "x is None:", snippet=True)


@pytest.mark.parametrize("caps", [ONE_LINE, SNIPPETS, MULTILINE])
def test_replace_from_replaces_text_before_the_cursor(caps: MenuCaps) -> None:
    # A dedent: the suggestion replaces the line's indentation.
    item = menu_item("    return x", "        ", caps, replace_from=8)
    assert item is not None and item.start == 0
    assert applied("        ", item).replace("\\", "") == "    return x"
    # A word partly replaced: the edit starts where the replaced text does.
    item = menu_item("self.value", "    x = sel", caps, replace_from=7)
    assert item is not None and applied("    x = sel", item) == "    self.value"
    assert item.start == 4
    # replace_from inside the typed word: the edit still starts at the word.
    item = menu_item("fix", "    pref", caps, replace_from=1)
    assert item is not None and item.start == 4 and applied("    pref", item) == "    prefix"
    assert item.filter_text.startswith("pref")


def test_menu_caps_from_client_info_and_capabilities() -> None:
    assert menu_caps("Eglot", False) == MenuCaps(multiline=True)
    assert menu_caps("helix", None) == MenuCaps(multiline=True)
    assert menu_caps("Visual Studio Code", True) == MenuCaps(snippets=True, multiline=True)
    assert menu_caps("Neovim", True) == MenuCaps(snippets=True, dashed_words=True)
    assert menu_caps(None, None) == MenuCaps()


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


VIM_LSP = menu_caps("vim-lsp", False)


def test_vim_lsp_gets_a_dedent_whose_filter_text_starts_with_the_replaced_indentation() -> None:
    # vim-lsp starts the completion at the edit (column 4) and drops an item whose filter text
    # does not start with the line from there to the cursor ("    "): issue 24.
    item = menu_item("return result", "        ", VIM_LSP, replace_from=4)
    assert item is not None and item.start == 4
    assert item.filter_text == "    return result"
    assert applied("        ", item) == "    return result"
    # Other clients keep the plain label as filter text; a typed word needs nothing added.
    assert menu_item("return result", "        ", ONE_LINE, replace_from=4).filter_text == "return result"  # type: ignore[union-attr]
    typed = menu_item("processor:", "    if pre", VIM_LSP)
    assert typed is not None and typed.filter_text == "preprocessor:"


@pytest.mark.parametrize("caps", [ONE_LINE, SNIPPETS, MULTILINE, VIM_LSP])
def test_a_tab_indented_line_keeps_its_tabs(caps: MenuCaps) -> None:
    # The model's spaces at a tab-indented line become tabs before an item is made
    # (postprocess.in_tabs): a dedent of one tab level replaces the line's tabs with one tab, and
    # vim-lsp's filter still sees what the edit replaces.
    item = menu_item("\ttotal += x;", "\t\t", caps, replace_from=2)
    assert item is not None
    assert applied("\t\t", item).replace("\\", "") == "\ttotal += x;"
    assert " " not in applied("\t\t", item).split("total")[0]
