"""Stubs of other modules' definitions, import scanning and packing within a budget (pure)."""

from __future__ import annotations

from lsp_server.context.definitions import Definition, Imported, pack, scan_imports, summarize, uses

MODULE = '''"""A module."""
from .base import Base as _Base, helper
import os

LIMIT = 10
TABLE = {
    "a": 1,
}


def make(
    name: str,
    size: int = 3,
) -> "Thing":
    """Make a thing.

    More words."""
    return Thing(name, size)


class Thing(_Base):
    """A thing with a size."""

    kind: str = "plain"
    __slots__ = ("name",)

    def __init__(self, name: str, size: int) -> None:
        self.name = name

    def grow(self, by: int = 1) -> int:
        return by

    def _secret(self) -> None:
        pass
'''


def test_a_function_stub_is_its_signature_on_one_line_and_its_docstring_line() -> None:
    stub = summarize(MODULE).stubs["make"]
    assert stub == 'def make(name: str, size: int=3) -> \'Thing\':\n    """Make a thing."""\n    ...'


def test_a_class_stub_has_fields_and_public_methods_but_no_private_ones() -> None:
    stub = summarize(MODULE).stubs["Thing"]
    assert stub.splitlines() == [
        "class Thing(_Base):",
        '    """A thing with a size."""',
        '    kind: str = "plain"',
        "    def __init__(self, name: str, size: int) -> None: ...",
        "    def grow(self, by: int=1) -> int: ...",
    ]


def test_constants_keep_their_first_line_and_re_exports_their_origin() -> None:
    summary = summarize(MODULE)
    assert summary.stubs["LIMIT"] == "LIMIT = 10"
    assert summary.stubs["TABLE"] == "TABLE = {...}"
    assert summary.imports["helper"] == Imported("helper", "base", "helper", 1)
    assert summary.imports["_Base"] == Imported("_Base", "base", "Base", 1)
    assert "os" not in summary.stubs


def test_a_module_that_does_not_parse_has_no_stubs() -> None:
    assert summarize("def broken(:\n").stubs == {}


def test_imports_are_scanned_from_lines_even_in_a_buffer_that_does_not_parse() -> None:
    text = (
        "from .models import (\n    User,\n    Group as G,\n)\n"
        "from ..core.util import helper  # comment\n"
        "import pkg.io as pio, json\n"
        "from x import *\n"
        "def f(:\n"
        "    from .late import later\n"
    )
    assert scan_imports(text) == [
        Imported("User", "models", "User", 1),
        Imported("G", "models", "Group", 1),
        Imported("helper", "core.util", "helper", 2),
        Imported("pio", "pkg.io"),
        Imported("json", "json"),
        Imported("later", "late", "later", 1),
    ]


def test_uses_count_names_and_module_attributes_near_the_cursor_not_in_imports() -> None:
    text = "from .a import User\nimport pkg.io as pio\n\nUser()\nUser.make()\npio.read(pio.open())\nUsers = 1\n"
    counts = uses(text, scan_imports(text))
    assert counts["User"] == 2 and counts["User.make"] == 1
    assert counts["pio"] == 2 and counts["pio.read"] == 1 and counts["pio.open"] == 1


def test_uses_are_counted_only_in_the_start_of_a_huge_file() -> None:
    text = "from .a import User\nUser()\n" + "x = 1\n" * 40_000 + "User()\n"
    assert uses(text, scan_imports(text))["User"] == 1


def _defs(*spec: tuple[str, str, int]) -> list[Definition]:
    return [Definition(path, name, f"def {name}(): ...", n) for path, name, n in spec]


def _words(text: str) -> int:
    return len(text.split())


def test_pack_takes_the_most_used_within_budget_and_keeps_import_order() -> None:
    defs = _defs(("a.py", "one", 0), ("b.py", "two", 5), ("a.py", "three", 2))
    chunks = pack(defs, budget=6, count=_words)  # three words per stub: two fit
    assert [(c.path, c.text) for c in chunks] == [("b.py", "def two(): ..."), ("a.py", "def three(): ...")]
    everything = pack(defs, budget=100, count=_words)
    assert [c.path for c in everything] == ["a.py", "b.py"]
    assert everything[0].text == "def one(): ...\n\ndef three(): ..."


def test_while_everything_fits_a_change_of_ranking_changes_nothing() -> None:
    before = pack(_defs(("a.py", "one", 0), ("b.py", "two", 1)), 100, _words)
    after = pack(_defs(("a.py", "one", 7), ("b.py", "two", 1)), 100, _words)
    assert before == after


def test_pack_with_no_budget_is_empty() -> None:
    assert pack(_defs(("a.py", "one", 3)), 0, _words) == ()


def test_scanning_is_bounded_on_hostile_buffers() -> None:
    from lsp_server.context.definitions import MAX_IMPORTS

    assert len(scan_imports("import a\n" * 100_000)) == MAX_IMPORTS
    assert scan_imports("from x import (\n" * 100_000) == []  # unclosed parentheses: no names, no blow-up
