"""The parse gate: no suggestion may break code that parsed or add errors to code that had some."""

from __future__ import annotations

import importlib

import pytest

from lsp_server.postprocess import treesitter
from lsp_server.postprocess.gate import MAX_REGION, gate, region

gate_module = importlib.import_module("lsp_server.postprocess.gate")  # the package exports `gate`

BEFORE = "import os\n\n\ndef f(x):\n    y = 1\n"
AFTER = "\n    return y\n\n\ndef g():\n    pass\n"


def test_a_suggestion_that_parses_passes_whole() -> None:
    assert gate("    y += x\n    y *= 2", BEFORE, AFTER, "python") == "    y += x\n    y *= 2"


def test_the_longest_passing_head_is_kept() -> None:
    # The third line opens a block whose body never comes: keep the two lines before it.
    assert gate("    y += x\n    y *= 2\n    if y:", BEFORE, AFTER, "python") == "    y += x\n    y *= 2"


def test_nothing_passes_means_nothing_is_shown() -> None:
    assert gate("    if y:", BEFORE, AFTER, "python") == ""
    assert gate("        z = 2", BEFORE, AFTER, "python") == ""  # unexpected indent


def test_code_that_already_had_an_error_gets_no_new_one() -> None:
    broken_below = AFTER + "\ndef h(:\n"  # a top-level line below the region: not parsed at all
    assert gate("    y += x", BEFORE, broken_below, "python") == "    y += x"
    typing = "def f(x):\n    y = (1 +\n"  # the user is in the middle of an expression above
    assert gate("    2)", typing, "\n    return y\n", "python") == "    2)"
    assert gate("    y += x", typing, "\n    return y\n", "python") == "    y += x"  # same error, same place
    assert gate("    2))", typing, "\n    return y\n", "python") == ""  # a new error


def test_unknown_languages_and_unparsable_input_pass_through() -> None:
    assert gate("if (", "x = ", "\n", "cobol") == "if ("
    deep = "x = " + "(" * 300 + "1" + ")" * 300 + "\n"  # too deep for the parser to tell
    assert gate("y = 1", deep, "\n", "python") == "y = 1"


def test_region_is_the_enclosing_top_level_statement() -> None:
    before, after = region(BEFORE, AFTER)
    assert before.startswith("def f(x):") and after == "\n    return y\n\n"


@pytest.mark.parametrize("language", ["python", "javascript"])
def test_a_huge_buffer_costs_what_its_region_costs(language: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # One 3 MB line below and above: no top-level line ends the region, so only the size bound does.
    wall = "x" * 3_000_000
    seen: list[int] = []
    real = gate_module.parser_for(language)
    assert real is not None

    def counting(text: str) -> gate_module.ParseError | None:
        seen.append(len(text))
        return real(text)

    monkeypatch.setattr(gate_module, "parser_for", lambda _lang: counting)
    gate("  y = (1", "# " + wall + "\n  ", "\n# " + wall, language)
    assert seen and max(seen) <= 2 * MAX_REGION + 10


# One function per language: a suggestion that parses, one that breaks it, and one whose head
# parses (the longest such head is kept). Each buffer parses before the suggestion.
CASES = {
    "javascript": ("function f(a) {\n  const b = a + 1;\n", "\n  return b;\n}\n",
                   "  b *= 2;", "  return (b;", "  b *= 2;\n  if (b {"),
    "typescript": ("function f(a: number): number {\n  let b: number = a;\n", "\n  return b;\n}\n",
                   "  b = b * 2;", "  b = b as ;", "  b += 1;\n  b: = 2;"),
    "typescriptreact": ("function F(): JSX.Element {\n  const n = 1;\n", "\n  return <div>{n}</div>;\n}\n",
                        "  const m = <span>{n}</span>;", "  const m = <span>{n};", "  const k = n;\n  const m = <span;"),
    "go": ("package main\n\nfunc f(a int) int {\n\tb := a\n", "\n\treturn b\n}\n",
           "\tb *= 2", "\tb := := 2", "\tb++\n\tif b {"),
    "rust": ("fn f(a: i32) -> i32 {\n    let mut b = a;\n", "\n    b\n}\n",
             "    b *= 2;", "    b *= (2;", "    b += 1;\n    let c = [1, 2;"),
    "java": ("class A {\n    int f(int a) {\n        int b = a;\n", "\n        return b;\n    }\n}\n",
             "        b *= 2;", "        b *= (2;", "        b++;\n        if (b {"),
    "c": ("int f(int a) {\n    int b = a;\n", "\n    return b;\n}\n",
          "    b *= 2;", "    b *= (2;", "    b++;\n    if (b {"),
    "cpp": ("int f(int a) {\n    auto b = a;\n", "\n    return b;\n}\n",
            "    b *= 2;", "    b *= (2;", "    b++;\n    std::vector<int v{;"),
}


@pytest.mark.parametrize("language", sorted(CASES))
def test_tree_sitter_languages_are_gated(language: str) -> None:
    before, after, good, bad, head_ok = CASES[language]
    assert gate_module.parser_for(language) is not None, f"no grammar for {language}"
    assert gate(good, before, after, language) == good
    assert gate(bad, before, after, language) == ""
    assert gate(head_ok, before, after, language) == head_ok.split("\n")[0]


def test_tree_sitter_code_with_an_error_above_gets_no_new_one() -> None:
    typing = "function f(a) {\n  const b = (a +\n"  # the user is in the middle of an expression
    after = "\n  return b;\n}\n"
    assert gate("  1);", typing, after, "javascript") == "  1);"  # fixes it
    assert gate("  1 +", typing, after, "javascript") == "  1 +"  # still the same open paren
    assert gate("  1));", typing, after, "javascript") == ""  # a new error


def test_a_missing_grammar_lets_suggestions_through(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(treesitter.GRAMMARS, "go", ("tree_sitter_not_installed", "language"))
    treesitter._language.cache_clear()
    gate_module.parser_for.cache_clear()
    try:
        assert gate("\tb := := 2", "func f() {\n", "\n}\n", "go") == "\tb := := 2"
    finally:
        monkeypatch.undo()
        treesitter._language.cache_clear()
        gate_module.parser_for.cache_clear()
