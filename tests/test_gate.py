"""The parse gate: no suggestion may break code that parsed or add errors to code that had some."""

from __future__ import annotations

import time

from lsp_server.postprocess.gate import gate, region

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
    assert gate("if (", "let x = ", ";\n", "javascript") == "if ("
    deep = "x = " + "(" * 300 + "1" + ")" * 300 + "\n"  # too deep for the parser to tell
    assert gate("y = 1", deep, "\n", "python") == "y = 1"


def test_region_is_the_enclosing_top_level_statement() -> None:
    before, after = region(BEFORE, AFTER)
    assert before.startswith("def f(x):") and after == "\n    return y\n\n"


def test_a_huge_buffer_costs_what_its_region_costs() -> None:
    filler = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(100_000))  # ~3 MB
    before, after = filler + "def target(x):\n    y = 1\n", "\n    return y\n" + filler
    t0 = time.perf_counter()
    assert gate("    y += 1", before, after, "python") == "    y += 1"
    assert time.perf_counter() - t0 < 1.0  # a bound on the work, far above its real cost
