"""The follow-ups a latest edit proposes (`propagate.propose`): where a renamed word, a changed
literal or a changed parameter list reaches, and where it must not."""

from __future__ import annotations

import pytest

from lsp_server.documents import Snapshot
from lsp_server.nextedit.history import Hunk
from lsp_server.nextedit.prompt import line_region
from lsp_server.nextedit.propagate import Lexed, binds, line_choices, propose

URI = "file:///m.py"


def carried(text: str, line: int, before: str, language: str = "python") -> str:
    """``text`` with every proposed follow-up of the edit on ``line`` (which read ``before``)."""
    doc = Snapshot(URI, text, 1, language)
    region = line_region(doc, 0, doc.line_count, 0)
    hunk = Hunk(URI, line, (before,), (doc.line_text(line),))
    out, at = "", 0
    for cand in propose(hunk, text, region, language):
        out += text[at : cand.start] + line_choices(cand)[-1][0]
        at = cand.start + len(cand.text)
    return out + text[at:]


RENAMED = '''def area(width, h):
    """Area of w by h."""
    # w is in metres
    total = width * h
    print(w, w=w, label="w")
    return self.w + w


def other(w):
    return w
'''


def test_a_renamed_parameter_reaches_its_uses_in_its_function_only() -> None:
    before = RENAMED.replace("total = width", "total = w")
    got = carried(before, 0, "def area(w, h):")
    assert got.splitlines()[3] == "    total = width * h"
    assert got.splitlines()[4] == '    print(width, w=width, label="w")'  # not the keyword, not the string
    assert got.splitlines()[5] == "    return self.w + width"  # not the attribute
    assert '"""Area of w by h."""' in got and "# w is in metres" in got  # prose stays
    assert got.endswith("def other(w):\n    return w\n")  # another function's own w


def test_a_use_after_a_line_ending_in_a_dot_is_not_an_attribute() -> None:
    text = "def check(frame, f):\n    # Entered for the 1st time.\n    b.line = frame\n"
    assert carried(text, 0, "def check(b, f):").splitlines()[2] == "    frame.line = frame"


def test_an_edit_with_nothing_to_carry_proposes_nothing() -> None:
    text = "def f(a):\n    # checked below\n    return a\n"
    doc = Snapshot(URI, text, 1, "python")
    hunk = Hunk(URI, 1, (), ("    # checked below",))
    assert propose(hunk, text, line_region(doc, 0, 3, 0), "python") == []
    literal = "def f(a):\n    return a * 60\n"
    hunk = Hunk(URI, 1, ("    return a * 30",), ("    return a * 60",))
    assert propose(hunk, literal, line_region(Snapshot(URI, literal, 1, "python"), 0, 2, 0)) == []


def test_a_changed_literal_is_proposed_at_its_twin() -> None:
    text = "def f(x):\n    if x:\n        send(x, 5)\n    else:\n        send(-x, 4)\n"
    got = carried(text, 2, "        send(x, 4)")
    assert got.splitlines()[4] == "        send(-x, 5)"


def test_swapped_parameters_swap_the_arguments_of_calls_and_method_calls() -> None:
    text = "def move(dst, src):\n    pass\n\nmove(a, b)\nmove(f(1, 2), c)\nx.move(a, b)\n"
    got = carried(text, 0, "def move(src, dst):")
    assert got.splitlines()[3:5] == ["move(b, a)", "move(c, f(1, 2))"]
    method = "class K:\n    def go(self, dst, src):\n        pass\n    def run(self):\n        self.go(a, b)\n"
    assert carried(method, 1, "    def go(self, src, dst):").splitlines()[4] == "        self.go(b, a)"


def test_an_added_parameter_reaches_calls_unless_it_has_a_default() -> None:
    text = "def load(path, strict):\n    pass\n\nload(p)\nload(  q  )\n"
    got = carried(text, 0, "def load(path):")
    assert got.splitlines()[3:5] == ["load(p, strict)", "load(  q, strict  )"]
    with_default = text.replace("strict)", "strict=False)")
    assert carried(with_default, 0, "def load(path):") == with_default


def test_brace_languages_scope_a_rename_to_its_block() -> None:
    renamed = "function f() {\n  let total = 0;\n  sum += 1;\n  return sum;\n}\nsum += 2;\n"
    out = carried(renamed, 1, "  let sum = 0;", "javascript")
    assert out == "function f() {\n  let total = 0;\n  total += 1;\n  return total;\n}\nsum += 2;\n"


def test_the_lexer_tells_code_from_strings_and_comments() -> None:
    text = 'x = r"""doc \\\n more""" # note\ny = \'it\'\n'
    lexed = Lexed(text, "python")
    assert [lexed.kind(text.index(c)) for c in "xmny"] == ["code", "string", "comment", "code"]
    c = "int a = 1; /* x\n y */ s = \"q\"; // z\n"
    lexed = Lexed(c, "c")
    assert [lexed.kind(c.index(ch)) for ch in "axsqz"] == ["code", "comment", "code", "string", "comment"]


def test_a_use_switched_to_another_existing_name_is_not_carried() -> None:
    text = "def f(x, y):\n    h(y)\n    return g(x)\n"
    assert carried(text, 1, "    h(x)") == text


def test_a_line_with_several_changes_offers_every_subset() -> None:
    text = "def f(x):\n    h(y)\n    return g(x, x)\n"  # a use renamed to a new name: the model decides
    doc = Snapshot(URI, text, 1, "python")
    hunk = Hunk(URI, 1, ("    h(x)",), ("    h(y)",))
    (cand,) = propose(hunk, doc.text, line_region(doc, 0, 3, 0))
    variants = [v for v, _ in line_choices(cand)]
    assert variants[0] == "    return g(x, x)\n" and variants[-1] == "    return g(y, y)\n"
    assert sorted(variants[1:3]) == ["    return g(x, y)\n", "    return g(y, x)\n"]


def test_follow_ups_of_a_definition_are_made_without_a_choice() -> None:
    text = "def f(y):\n    return g(x, x)\n"
    doc = Snapshot(URI, text, 1, "python")
    hunk = Hunk(URI, 0, ("def f(x):",), ("def f(y):",))
    (cand,) = propose(hunk, doc.text, line_region(doc, 0, 2, 0))
    assert [v for v, _ in line_choices(cand)] == ["    return g(y, y)\n"]
    calls = "def move(src, dst):\n    pass\n\nmove(a, b)\n"
    doc = Snapshot(URI, calls, 1, "python")
    (cand,) = propose(Hunk(URI, 0, ("def move(dst, src):",), ("def move(src, dst):",)), calls,
                      line_region(doc, 0, 4, 0))
    assert [v for v, _ in line_choices(cand)] == ["move(b, a)\n"]
    # one call's arguments swapped: the other calls may stay as they are
    swapped = "move(b, a)\nmove(a, b)\n"
    doc = Snapshot(URI, swapped, 1, "python")
    (cand,) = propose(Hunk(URI, 0, ("move(a, b)",), ("move(b, a)",)), swapped, line_region(doc, 0, 2, 0))
    assert [v for v, _ in line_choices(cand)] == ["move(a, b)\n", "move(b, a)\n"]


@pytest.mark.parametrize(("line", "word", "python", "bound"), [
    ("def f(a, count=1):", "count", True, True),
    ("def count(a):", "count", True, True),
    ("    count = 0", "count", True, True),
    ("    count: int = 0", "count", True, True),
    ("    first, count = pair", "count", True, True),
    ("    for i, count in pairs:", "count", True, True),
    ("    with open(p) as count:", "count", True, True),
    ("    if (count := n):", "count", True, True),
    ("    total = count + 1", "count", True, False),
    ("    f(count=count)", "count", True, False),
    ("    count += 1", "count", True, False),
    ("    return count", "count", True, False),
    ("    for x in count:", "count", True, False),
    ("  const count = 0;", "count", False, True),
    ("  int count;", "count", False, True),
    ("static int add(int a, int count) {", "count", False, True),
    ("function add(a, count) {", "count", False, True),
    ("  char *count = p;", "count", False, True),
    ("  Map<String, Integer> count = new HashMap<>();", "count", False, True),
    ("  return count;", "count", False, False),
    ("  return a * count;", "count", False, False),
    ("  x = a & count;", "count", False, False),
    ("  total = count + 1;", "count", False, False),
    ("  if (count) {", "count", False, False),
])
def test_a_name_is_bound_at_definitions_and_declarations_only(line: str, word: str, python: bool,
                                                                bound: bool) -> None:
    text = f"x = 1\n{line}\nend\n"
    at = len("x = 1\n") + line.rindex(word)  # the last: in f(count=count), the value
    assert binds(text, at, len(word), python) is bound
