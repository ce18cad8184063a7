"""Golden cases for each post-processing rule: tests/golden/postprocess/<rule>.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lsp_server.postprocess import CursorContext, clean, decide_multiline, find_cut, should_stop

GOLDEN = Path(__file__).parent / "golden" / "postprocess"


def _cases() -> list[tuple[str, dict[str, str], str]]:
    out = []
    for path in sorted(GOLDEN.glob("*.json")):
        data = json.loads(path.read_text())
        for i, case in enumerate(data["cases"]):
            out.append(pytest.param(path.stem, case, data.get("stop_reason", "eos"), id=f"{path.stem}-{i}"))
    return out


def test_every_rule_has_golden_cases() -> None:
    assert {p.stem for p in GOLDEN.glob("*.json")} == {
        "single_line", "block_exit", "suffix_echo", "deadline", "blank", "hole_floor", "body_below", "first_indent",
        "repeat", "dead_end", "body_only", "continued",
    }


@pytest.mark.parametrize(("rule", "case", "stop_reason"), _cases())
def test_golden(rule: str, case: dict[str, str], stop_reason: str) -> None:
    ctx = CursorContext.from_text(case["before"], case["after"], language=case.get("language", ""),
                                  column=int(case.get("column", 0)))  # fmt: skip
    assert clean(case["raw"], ctx, stop_reason) == case["expected"]



def test_multiline_decision() -> None:
    assert decide_multiline("auto", "   ") is True
    assert decide_multiline("auto", ")") is False
    assert decide_multiline("never", "") is False
    assert decide_multiline("always", ")") is True


def test_stream_stops_once_a_cut_is_certain() -> None:
    ctx = CursorContext.from_text("def f(x):\n    ", "\n")
    stop = should_stop(ctx)
    assert not stop("y = 1\n    retu")
    assert stop("y = 1\n    return y\n\ndef g")


def test_single_line_stream_stops_at_newline() -> None:
    ctx = CursorContext.from_text("foo(", ")")
    assert find_cut("a, b", ctx) is None
    assert find_cut("a, b\nc", ctx) == 4


def test_a_suggestion_in_spaces_keeps_a_tab_indented_line_in_tabs() -> None:
    from lsp_server.postprocess import finish, in_tabs

    assert in_tabs("        return true;\n    }", "\t\t") == "\t\treturn true;\n\t}"
    assert in_tabs("\t\treturn true;", "\t\t") == "\t\treturn true;"  # already in tabs
    assert in_tabs("        return true;", "    ") == "        return true;"  # a file in spaces
    ctx = CursorContext.from_text("function f(a) {\n\tif (a) {\n", "\n\t}\n}\n", language="typescript")
    sug = finish("        return true;\n", ctx, "eos", indent="\t\t")
    assert sug is not None and sug.text == "return true;" and sug.replace == 0


def test_a_line_that_only_ends_whole() -> None:
    from lsp_server.postprocess.cut import finished_line

    assert finished_line("  x = f(a, b);") and finished_line("if (x) {") and finished_line("    return sum(xs)")
    assert finished_line("    for x in xs:") and finished_line("  }  // done")
    assert not finished_line("    return tot") and not finished_line("    x = f(a,") and not finished_line("  s = ')'")
    assert not finished_line("   ")
