"""The block structure the cut stage and the first-line constraint read from the text."""

from __future__ import annotations

from lsp_server.postprocess.cursor import CursorContext


def ctx(before: str, after: str = "\n", language: str = "python") -> CursorContext:
    return CursorContext.from_text(before, after, language=language)


def test_a_cursor_left_of_the_editors_indent_is_a_dedent_the_user_made() -> None:
    loop = "def f(xs):\n    for x in xs:\n        print(x)\n"
    at = lambda column, after="\n": CursorContext.from_text(loop, after, language="python", column=column)  # noqa: E731
    assert at(8).allowed_indents() == (8, 4, 0) and at(0).allowed_indents() == (8, 4, 0)  # the model chooses
    assert at(4).allowed_indents() == (4, 0)  # Backspace after the loop: not back into it
    # The line below waits for this one to open its block: at the cursor, an ``except`` to come.
    tried = "def f(s):\n    try:\n        n = int(s)\n"
    assert ctx(tried, "\n        n = 0\n").allowed_indents() == (8,)
    assert CursorContext.from_text(tried, "\n        n = 0\n", language="python", column=4).allowed_indents() == (4,)
    # A line opened above code copies its indentation (Vim's O): that says nothing of the user's.
    assert at(4, "\n    return 1\n").allowed_indents() == (8, 4)
    # An opener with no body yet keeps its body's column wherever the cursor is.
    assert CursorContext.from_text("def f(x):\n    if x:\n", "\n", language="python", column=4).allowed_indents() == (8,)


def test_levels_are_the_last_line_and_its_enclosing_blocks() -> None:
    c = ctx("def f(xs):\n    for x in xs:\n        if x:\n            print(x)\n")
    assert c.levels() == (12, 8, 4, 0)
    assert ctx("import os\n").levels() == (0,)
    assert ctx("").levels() == ()


def test_unit_is_the_smallest_indentation_step() -> None:
    assert ctx("def f():\n  if x:\n    y = 1\n").unit() == 2
    assert ctx("x = 1\n").unit() == 4


def test_next_line_is_placed_unless_it_waits_for_an_opener() -> None:
    body = "def f(xs):\n    best = None\n"
    assert ctx(body, "\n    return best\n").next_is_placed()
    assert not ctx(body, "\n        best = xs[0]\n").next_is_placed()  # deeper than any block
    opener = "def f(xs):\n    for x in xs:\n"
    assert ctx(opener, "\n        print(x)\n").next_is_placed()  # the opener's body
    assert not ctx(opener, "\n            print(x)\n").next_is_placed()  # two levels: a line is missing


def test_a_docstring_alone_is_no_body() -> None:
    assert ctx('def f(x):\n    """Twice x."""\n').bodiless_opener() == 0
    assert ctx('def f(x):\n    """Twice x.\n\n    More.\n    """\n').bodiless_opener() == 0
    assert ctx('class A:\n    def f(self):\n        \'\'\'Doc.\'\'\'\n').bodiless_opener() == 4
    assert ctx('"""Module doc."""\n').bodiless_opener() is None
    assert ctx('def f(x):\n    """Doc."""\n    y = 1\n').bodiless_opener() is None


def test_allowed_indents_at_a_blank_line() -> None:
    assert ctx('def f(x):\n    """Doc."""\n').allowed_indents() == (4,)
    assert ctx("def f(x):\n    if x:\n").allowed_indents() == (8,)
    loop = "def f(xs):\n    for x in xs:\n        print(x)\n"
    assert ctx(loop).allowed_indents() == (8, 4, 0)  # anywhere up the chain: the model chooses
    assert ctx(loop, "\n    return 1\n").allowed_indents() == (8, 4)  # not below the next line
    assert ctx("def f(xs):\n    y = 1\n", "\n        print(y)\n").allowed_indents() == (4, 0)  # an opener is due
    assert ctx("def f(x):\n    y = 1\n    ", "\n").allowed_indents() == (4, 0)  # indented: still blank
    assert ctx("def f(x):\n    y = ", "\n").allowed_indents() is None  # not a blank line
    assert ctx("def f(x):\n    if x:\n", language="javascript").allowed_indents() is None


def test_code_is_needed_where_a_block_has_no_body_or_the_next_line_waits() -> None:
    assert ctx("def f(x):\n").needs_code()
    assert ctx("def f(xs):\n    y = 1\n", "\n        print(y)\n").needs_code()
    assert not ctx("def f(xs):\n    y = 1\n", "\n    return y\n").needs_code()


def test_statements_span_brackets_and_strings() -> None:
    signature = "class W:\n    def __init__(self,\n                 width=70,\n                 tabsize=8):\n"
    c = ctx(signature, "\n\n    # -- Private methods\n    def _munge(self, text):\n")
    assert [s.indent for s in c.statements] == [0, 4]  # the signature is one statement
    assert c.bodiless_opener() == 4 and c.allowed_indents() == (8,)
    assert c.next_code == "    def _munge(self, text):"  # the comment says nothing about structure
    doc = 'def f(x):\n    """One.\n\n    x = (1,\n    """\n'
    assert ctx(doc).bodiless_opener() == 0  # brackets inside the docstring do not count


def test_dead_ends_are_where_a_return_would_cut_off_code_below() -> None:
    body = "def f(xs):\n    best = None\n"
    assert ctx(body, "\n    best = xs[0]\n    return best\n").dead_ends() == (4,)  # it would never run
    assert ctx(body, "\n        best = xs[0]\n").dead_ends() == (4, 0)  # an opener is due: no return fits
    assert ctx(body).dead_ends() == ()  # nothing below
    assert ctx("def f(x):\n    if x:\n        y = 1\n", "\n    else:\n        y = 2\n").dead_ends() == ()
    assert ctx(body, "\n    # done\n    return best\n").dead_ends() == (4,)  # comments skipped
    assert ctx(body, "\n    x = 1\n", language="javascript").dead_ends() == ()
    assert ctx("def f(x):\n    y = ", "\n    return y\n").dead_ends() == ()  # not a blank line


def test_a_docstring_sets_where_an_empty_body_starts() -> None:
    # Two-space bodies below a four-space docstring (HumanEval/109): the body starts at the
    # docstring, not one step of the file's smallest indentation in.
    src = "def f(arr):\n    '''Doc.'''\n"
    below = "\n      return True\n    return False\n"
    assert ctx(src, below).unit() == 2
    assert ctx(src, below).allowed_indents() == (4,)
    assert ctx(src, below).scope_floor() == 4


def test_a_line_that_a_return_above_leaves_unreachable_is_not_placed() -> None:
    # HumanEval/31: `for k in ...:` is missing between the early return and its loop body.
    src = "def f(n):\n    if n < 2:\n        return False\n"
    below = "\n        if n % k == 0:\n            return False\n    return True\n"
    c = ctx(src, below)
    assert not c.next_is_placed()
    assert c.allowed_indents() == (4, 0)
    assert c.needs_code()
    assert ctx("def f(n):\n    if n < 2:\n        x = 1\n", below).next_is_placed()


def test_a_line_continues_a_statement_inside_brackets_strings_and_after_a_backslash() -> None:
    from lsp_server.postprocess.cursor import continues

    assert continues(["def f(", "    a,"], True) and continues(['    """Doc', ""], True)
    assert continues(["    x = 1 + \\"], True) and not continues(["def f(a):", "    x = (1)"], True)
    assert continues(["int f(int a,"], False) and continues(["/** Doc", " * more"], False)
    assert not continues(["int f(int a) {", "  g(\")\");  // (", "  if (x) {"], False)
    assert continues(["const s = `a", "b ${x}"], False) and not continues(["const s = '(';"], False)
