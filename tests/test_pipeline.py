"""The pure pipeline in each editor state: what the model is asked, and where its text goes."""

from __future__ import annotations

import pytest

from lsp_server.completion.cold import hurried
from lsp_server.config import PromptSettings
from lsp_server.context.window import open_line
from lsp_server.engine.base import first_line_fits
from lsp_server.pipeline import job_for, prepare
from lsp_server.postprocess import Suggestion

FUNC = "def total(xs):\n    result = 0\n    for x in xs:\n        result += x\n"
BELOW = "\nprint(total([1]))\n"


def _prepare(text: str, offset: int):  # type: ignore[no-untyped-def]
    prepared, _ = prepare(text, offset, PromptSettings(), lambda s: len(s.split()), language="python")
    return prepared


@pytest.mark.parametrize(("indent", "indents"), [("", (8, 4, 0)), ("        ", (8, 4, 0)), ("    ", (4, 0))])
def test_a_blank_line_asks_the_same_whatever_indentation_the_editor_put(indent: str, indents: tuple[int, ...]) -> None:
    text = FUNC + indent + "\n" + BELOW
    p = _prepare(text, len(FUNC) + len(indent))
    assert p.prompt.prefix + p.prompt.middle == FUNC  # the indentation is left to the model
    assert p.indent == indent
    # The loop body, the function body, or a new top-level line; left of the loop body (where
    # editors indent), the user dedented: not back into the loop.
    assert p.indents == indents


def test_a_dedent_replaces_the_editors_indentation() -> None:
    text = FUNC + "        \n" + BELOW
    p = _prepare(text, len(FUNC) + 8)
    assert p.finish("    return result\n", "eos") == Suggestion("return result", replace=4)
    assert p.finish("        result *= 2\n", "eos") == Suggestion("result *= 2")
    found = p.finish("    return result\n", "eos")
    assert found is not None
    assert found.apply(text, len(FUNC) + 8)[0] == FUNC + "    return result\n" + BELOW


def test_the_start_of_an_existing_line_opens_a_line_above_it() -> None:
    text = FUNC + "    return result\n"
    offset = len(FUNC)  # column 0 of the return line
    assert open_line(text, offset) == (FUNC + "\n    return result\n", "\n")
    p = _prepare(text, offset)
    assert p.prompt.suffix.startswith("\n    return result")
    found = p.finish("    result *= 2\n", "eos")
    assert found == Suggestion("    result *= 2\n")
    assert found.apply(text, offset)[0] == FUNC + "    result *= 2\n    return result\n"


def test_after_indentation_on_an_existing_line_the_line_keeps_it() -> None:
    text = FUNC + "    return result\n"
    offset = len(FUNC) + 4  # after the indentation, before "return"
    assert open_line(text, offset)[1] == "\n    "
    found = _prepare(text, offset).finish("    result *= 2\n", "eos")
    assert found is not None
    assert found.apply(text, offset)[0] == FUNC + "    result *= 2\n    return result\n"


def test_mid_line_and_line_end_are_left_alone() -> None:
    assert open_line("x = f(a)\n", 6) == ("x = f(a)\n", "")
    assert open_line("x = 1\n", 5) == ("x = 1\n", "")
    assert open_line("    \n", 4) == ("    \n", "")  # a blank line needs no new line
    p = _prepare("x = f(a)\n", 6)
    assert not p.ctx.multiline and p.indents is None and p.max_tokens <= 48


def test_the_first_line_constraint_follows_bpe_whitespace() -> None:
    allowed = (12, 4)
    assert first_line_fits("", allowed) is None
    assert first_line_fits("           ", allowed) is None  # 11 columns, then " if"
    assert first_line_fits("            ", allowed) is None  # exactly 12, then "if"
    assert first_line_fits("           " + " if x:", allowed) is True
    assert first_line_fits("       ", allowed) is False  # 7: only unusual tokens could finish it
    assert first_line_fits("        if x:", allowed) is False  # 8 columns: not a place for code
    assert first_line_fits("\n    x", allowed) is False  # a blank line first
    assert first_line_fits("   " + " return", allowed) is True
    assert first_line_fits("  ", None) is None and first_line_fits("x", None) is True


def test_the_first_line_avoids_a_return_that_would_cut_off_the_code_below() -> None:
    avoid = ((4, "return"), (4, "raise"))
    assert first_line_fits("    return", (8, 4), avoid) is False
    assert first_line_fits("   " + " raise ValueError", (8, 4), avoid) is False
    assert first_line_fits("        return x", (8, 4), avoid) is True  # deeper: the block it ends is its own
    assert first_line_fits("    re", (8, 4), avoid) is None  # may still be "return" or "result"
    assert first_line_fits("    result = 1", (8, 4), avoid) is True
    assert first_line_fits("    return", None, avoid) is False and first_line_fits("\n", None, avoid) is None
    text = FUNC + "\n" + "    return result\n"
    p = _prepare(text, len(FUNC))
    assert p.avoid == ((4, "return"), (4, "raise"), (4, "break"), (4, "continue"))  # the return below would not run
    assert p.finish("    return sum(xs)\n", "eos") is None


def test_other_languages_are_gated_through_the_whole_pipeline() -> None:
    text = "function total(xs) {\n  let result = 0;\n  \n  return result;\n}\n"
    offset = text.index("  \n") + 2
    prepared, _ = prepare(text, offset, PromptSettings(), lambda s: len(s.split()), language="javascript")
    assert prepared.finish("  for (const x of xs) result += x;\n", "eos") == Suggestion("for (const x of xs) result += x;")
    assert prepared.finish("  for (const x of xs {\n", "eos") is None  # would break code that parses


def test_only_a_cursor_with_code_before_it_on_its_line_asks_for_healing() -> None:
    text = "def f(xs):\n    for x in x\n"
    assert job_for(_prepare(text, text.index("in x") + 4)).heal
    assert not job_for(_prepare(FUNC + "    \n" + BELOW, len(FUNC) + 4)).heal  # a blank line
    done = "def f(xs):\n    return sorted(xs)\n"
    assert not _prepare(done, done.index(")\n") + 1).heal  # a line end after punctuation
    assert _prepare(done, done.index("(xs)") + 1).heal  # punctuation with text right of it
    assert _prepare("x = [1, 2]\nfor v in ", 20).heal  # a space at the line end


def test_the_budget_may_not_end_a_suggestion_right_after_an_opener() -> None:
    text = "def f(ops):\n    for op in o\n    return 0\n"
    p = _prepare(text, text.index("in o") + 4)
    assert p.budget_ms == PromptSettings().typing_budget_ms and p.grace_ms > 0
    assert not p.may_end("ps:\n")  # the loop has no body yet
    assert p.may_end("ps:\n        print(op)\n")
    assert p.may_end("ps")  # no line is complete: nothing to judge
    assert job_for(p).may_end == p.may_end
    assert p.finish("ps:\n", "deadline") is None  # a block without its body is refused
    # The typing budget is a latency bound: the suggestion ends before it, not a line after it.
    assert p.end_in_budget and job_for(p).end_in_budget
    blank = _prepare(FUNC + "    \n" + BELOW, len(FUNC) + 4)
    assert blank.budget_ms == PromptSettings().time_budget_ms and not blank.end_in_budget


def test_a_cold_run_may_end_a_python_suggestion_right_after_its_opener() -> None:
    # After a restart the body's line took the first answer to 1.15 s, past the 1 s target.
    text = "def f(ops):\n    for op in o\n    return 0\n"
    p = hurried(_prepare(text, text.index("in o") + 4), 1000)
    assert p.bodiless_ok and p.may_end("ps:\n")  # the opener alone, shown in time
    assert p.finish("ps:\n", "deadline") == Suggestion("ps:")
    assert p.finish("ps:\n", "eos") is None  # the model itself ended there: a block with no body
    blank = hurried(_prepare(FUNC + "        \n" + BELOW, len(FUNC) + 8), 1000)
    assert blank.finish("        if not xs:\n", "deadline") == Suggestion("if not xs:")
    assert blank.finish("        if not xs:\n            return 0\n", "deadline") == Suggestion("if not xs:\n            return 0")
    assert blank.finish("        if not xs) :\n", "deadline") is None  # still gated
    # A brace language's opener leaves its brace open: not there.
    js_text = "function f(xs) {\n  \n  return xs;\n}\n"
    js, _ = prepare(js_text, js_text.index("  \n") + 2, PromptSettings(), lambda s: len(s.split()), language="javascript")
    js = hurried(js, 1000)
    assert not js.may_end("if (xs) {\n")
    assert js.finish("if (xs) {\n", "deadline") is None


def test_the_budget_may_not_end_a_suggestion_inside_a_bracket_it_opened() -> None:
    # A cold request's hurried run ended after `raise IDNAError(`: the gate dropped it, and the
    # user got nothing.
    p = _prepare(FUNC + "        \n" + BELOW, len(FUNC) + 8)
    assert not p.may_end("        raise ValueError(\n")
    assert not p.may_end("        raise ValueError(\n            'bad',\n")
    assert p.may_end("        raise ValueError(\n            'bad',\n        )\n")
    text = "function f(h) {\n  \n  return h;\n}\n"
    js, _ = prepare(text, text.index("  \n") + 2, PromptSettings(), lambda s: len(s.split()), language="javascript")
    assert not js.may_end("h = {\n    ...h,\n")  # a literal's first rows
    assert js.may_end("h = {\n    ...h,\n  };\n")
    mid = "def f(a, b):\n    return g(a, \n"
    call = _prepare(mid, mid.index(", \n") + 2)
    assert call.may_end("b)\n")  # it closes the bracket its line opened
    assert not call.may_end("b, [\n")


def test_import_lines_come_before_a_window_that_starts_below_them() -> None:
    head = "import os\nfrom .shapes import Circle\n\n\n"
    text = head + "def area(c):\n" + "    x = Circle(1)\n" * 60 + "    \n"
    words = lambda s: len(s.split())  # noqa: E731
    on, _ = prepare(text, len(text) - 1, PromptSettings(prefix_tokens=40, import_context_tokens=10), words)
    off, _ = prepare(text, len(text) - 1, PromptSettings(prefix_tokens=40, import_context_tokens=0), words)
    assert "import" not in off.prompt.prefix  # the window alone starts far below the imports
    assert on.prompt.prefix == "import os\nfrom .shapes import Circle\n\n\n" + off.prompt.prefix


def test_a_refused_answer_is_asked_again_with_its_first_word_barred() -> None:
    text = FUNC + "    \n    print(result)\n"
    p = _prepare(text, len(FUNC) + 4)
    assert p.finish("    print(result)\n", "eos") is None  # an echo of the line below
    again = p.second_chance("    print(result)\n")
    assert again is not None and (4, "print") in (again.avoid or ())
    assert first_line_fits("    print(0)", again.indents, again.avoid) is False
    assert first_line_fits("        print(0)", again.indents, again.avoid) is True  # another indentation
    assert again.second_chance("    print(result)\n") is None  # barred already: no third run
    assert p.second_chance("\n    x = 1\n") is None  # nothing on the first line for the engine to bar
    brace = _prepare("f(\n  \n)\n", 4)
    barred = brace.second_chance("  (value) => {\n")
    assert barred is not None and barred.avoid == ((2, "("),)  # a bracket is a word of its own


class _Engine:
    """Answers each job with the next of ``answers``; records the jobs."""

    def __init__(self, *answers: str) -> None:
        self.answers, self.jobs = list(answers), []  # type: ignore[var-annotated]

    def generate(self, job, cancel):  # type: ignore[no-untyped-def]
        from lsp_server.engine.base import GenerationResult

        self.jobs.append(job)
        return GenerationResult(self.answers.pop(0), "eos", n_prompt=10, n_generated=3)


def test_the_runner_shows_the_second_choice_only_where_the_first_was_refused() -> None:
    from lsp_server.completion.run import run_prepared
    from lsp_server.engine.base import CancelToken

    text = FUNC + "    \n    print(result)\n"
    p = _prepare(text, len(FUNC) + 4)
    engine = _Engine("    print(result)\n", "    result *= 2\n")
    result, found = run_prepared(engine, p, CancelToken(), second_chance=True)  # type: ignore[arg-type]
    assert found == Suggestion("result *= 2") and result.n_generated == 6
    assert engine.jobs[1].avoid[-1] == (4, "print")
    engine = _Engine("    print(result)\n")
    assert run_prepared(engine, p, CancelToken())[1] is None and len(engine.jobs) == 1  # a remote engine: once
    engine = _Engine("    result *= 2\n")
    assert run_prepared(engine, p, CancelToken(), second_chance=True)[1] == Suggestion("result *= 2")
    assert len(engine.jobs) == 1  # accepted at once: no second run


def test_a_brace_language_keeps_the_first_line_at_the_editors_indentation() -> None:
    text = "function f(xs) {\n  g(\n    a,\n    \n    () => {},\n  );\n}\n"
    offset = text.index("    \n") + 4
    p, _ = prepare(text, offset, PromptSettings(), lambda s: len(s.split()), language="javascript")
    assert p.indent == "    " and p.indents == (4,)  # the braces put it there; the model may not move it
    assert first_line_fits("  (value) => {", p.indents, p.avoid) is False
    assert first_line_fits("    (value) => value,", p.indents, p.avoid) is True
    py = _prepare(FUNC + "        \n" + BELOW, len(FUNC) + 8)
    assert py.indents == (8, 4, 0)  # Python: the block structure decides, a dedent included
