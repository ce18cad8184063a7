"""The repository-level set (bench/repotasks.py, bench/repo.py): selection and scores, no model."""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

import pytest

from bench import repotasks
from bench.replay import Reply
from bench.repo import (
    build_workspace,
    identifier_recall,
    load_sources,
    score,
    suggestion_first_line,
    summary,
    table,
)

CORE = '''\
from .util import helper, CONST, shadowed
from . import util
from pkg.models import Model as M
import pkg.models as mm
from os import path


def shadowed():
    return None


def run(x, y):
    """Calls helper(x) in a docstring."""
    value = helper(x) + CONST
    if x: return helper(x)
    result = util.compute(x, CONST)
    a = 1; b = helper(a)
    item = mm.Model(x)  # a comment
    other = M(y)
    same = shadowed()
    outside = path.join(x, y)
    return helper(x, y)


def rebinds(helper):
    return helper(1, 2, 3)


def tiny(x):
    CONST
'''


def write_pkg(root: Path, name: str = "pkg", core: str = CORE) -> Path:
    d = root / name
    d.mkdir(parents=True)
    (d / "__init__.py").write_text("")
    (d / "util.py").write_text(
        "CONST = 1\n\ndef helper(*a):\n    return a\n\ndef compute(x, c):\n    return x\n"
    )
    (d / "models.py").write_text("class Model:\n    def __init__(self, x):\n        self.x = x\n")
    (d / "core.py").write_text(core.replace("pkg.", f"{name}."))
    return d


def core_tasks(tmp_path: Path) -> dict[int, repotasks.RepoTask]:
    d = write_pkg(tmp_path)
    src = (d / "core.py").read_text()
    tasks = repotasks.file_tasks(src, "pkg/core.py", "pkg", repotasks.module_names(d))
    return {t.line: t for t in tasks}


def line_of(text: str) -> int:
    return next(i for i, ln in enumerate(CORE.split("\n"), 1) if ln.strip() == text)


def test_module_names(tmp_path: Path) -> None:
    d = write_pkg(tmp_path)
    assert repotasks.module_names(d) == {"pkg": "pkg/__init__.py", "pkg.core": "pkg/core.py",
                                         "pkg.models": "pkg/models.py", "pkg.util": "pkg/util.py"}  # fmt: skip


def test_cross_file_imports_bind_names_and_modules(tmp_path: Path) -> None:
    d = write_pkg(tmp_path)
    imports = repotasks.cross_file_imports(
        ast.parse(CORE), "pkg/core.py", repotasks.module_names(d)
    )
    # ``shadowed`` is defined in the file itself; ``path`` comes from another package.
    assert imports.names == {"helper": "pkg.util", "CONST": "pkg.util", "M": "pkg.models"}
    assert imports.modules == {"util": "pkg.util", "mm": "pkg.models"}


def test_candidate_lines(tmp_path: Path) -> None:
    tasks = core_tasks(tmp_path)
    value = tasks[line_of("value = helper(x) + CONST")]
    assert value.names == ("helper", "CONST")
    assert value.defining == ("pkg/util.py",)
    assert value.indent == "    " and value.hidden == "value = helper(x) + CONST"
    assert value.task_id == f"pkg/core.py:{value.line}"
    assert value.sha256 == hashlib.sha256(CORE.encode()).hexdigest()
    assert tasks[line_of("result = util.compute(x, CONST)")].names == ("util.compute", "CONST")
    item = tasks[line_of("item = mm.Model(x)  # a comment")]
    assert item.names == ("mm.Model",) and item.defining == ("pkg/models.py",)
    assert tasks[line_of("other = M(y)")].names == ("M",)
    assert tasks[line_of("return helper(x, y)")].names == ("helper",)
    # Not: the docstring, a line behind a block header, a line with ``;``, a name defined in the
    # file, an import from another package, a parameter of the same name, fewer than 8 characters.
    assert set(tasks) == {line_of(s) for s in ("value = helper(x) + CONST", "result = util.compute(x, CONST)",
                                               "item = mm.Model(x)  # a comment", "other = M(y)",
                                               "return helper(x, y)")}  # fmt: skip


def test_long_lines_are_skipped(tmp_path: Path) -> None:
    long = "    value = helper(" + "x, " * 60 + "x)\n"
    d = write_pkg(
        tmp_path,
        core="from .util import helper\n\ndef f(x):\n" + long + "    return helper(x, x)\n",
    )
    tasks = repotasks.file_tasks(
        (d / "core.py").read_text(), "pkg/core.py", "pkg", repotasks.module_names(d)
    )
    assert [t.hidden for t in tasks] == ["return helper(x, x)"]


def test_relative_import_from_a_subpackage(tmp_path: Path) -> None:
    d = write_pkg(tmp_path)
    sub = d / "sub"
    sub.mkdir()
    (sub / "__init__.py").write_text("")
    src = "from ..util import helper\nfrom .. import models\n\ndef f(x):\n    return models.Model(helper(x))\n"
    (sub / "leaf.py").write_text(src)
    [task] = repotasks.file_tasks(src, "pkg/sub/leaf.py", "pkg", repotasks.module_names(d))
    assert task.names == ("models.Model", "helper")
    assert task.defining == ("pkg/models.py", "pkg/util.py")


def test_view_is_the_auto_indent_state(tmp_path: Path) -> None:
    task = core_tasks(tmp_path)[line_of("other = M(y)")]
    text, offset = task.view(CORE)
    before, _, after = CORE.partition("    other = M(y)\n")
    assert text == before + "    \n" + after
    assert offset == len(before) + 4
    with pytest.raises(ValueError):
        task.view(CORE.replace("other = M(y)", "other = M(z)"))


def test_view_in_the_other_editor_states(tmp_path: Path) -> None:
    task = core_tasks(tmp_path)[line_of("other = M(y)")]
    before, _, after = CORE.partition("    other = M(y)\n")
    for state, typed in (("column0", ""), ("before-name", "    other = "), ("mid-name", "    other = M(")):
        text, offset = task.view(CORE, state)
        assert (text, offset) == (before + typed + "\n" + after, len(before) + len(typed)), state
    with pytest.raises(ValueError, match="unknown editor state"):
        task.view(CORE, "sideways")


def test_selection_is_seeded_spread_and_capped(tmp_path: Path) -> None:
    site = tmp_path / "site"
    for name in ("pkga", "pkgb", "pkgc"):
        write_pkg(site, name)
    packages = ("pkga", "pkgb", "pkgc", "absent")
    sel = repotasks.select(site, 7, seed=1, packages=packages, per_package=3)
    assert sel == repotasks.select(site, 7, seed=1, packages=packages, per_package=3)
    assert len(sel.tasks) == 7
    counts = {p: sum(t.package == p for t in sel.tasks) for p in packages[:3]}
    assert sorted(counts.values()) == [2, 2, 3]
    assert len({t.task_id for t in sel.tasks}) == 7
    assert sel.notes == [f"absent: not installed in {site}; skipped"]
    # Round-robin: every package before any package's second task.
    assert len({t.package for t in sel.tasks[:3]}) == 3
    few = repotasks.select(site, 50, seed=1, packages=packages, per_package=2)
    assert len(few.tasks) == 6 and "only 6 tasks found (asked for 50)" in few.notes
    other = repotasks.select(site, 7, seed=2, packages=packages, per_package=3)
    assert {t.package for t in other.tasks} == {"pkga", "pkgb", "pkgc"}


def test_workspace_copy_and_sha_check(tmp_path: Path) -> None:
    site = tmp_path / "site"
    write_pkg(site)
    (site / "pkg" / "data.txt").write_text("not python")
    sel = repotasks.select(site, 2, seed=3, packages=("pkg",))
    ws = tmp_path / "ws"
    build_workspace(site, ["pkg"], ws)
    assert sorted(p.name for p in (ws / "pkg").iterdir()) == [
        "__init__.py",
        "core.py",
        "models.py",
        "util.py",
    ]
    sources = load_sources(sel.tasks, ws)
    assert sources["pkg/core.py"] == (site / "pkg" / "core.py").read_text()
    (ws / "pkg" / "core.py").write_text("changed\n")
    with pytest.raises(SystemExit):
        load_sources(sel.tasks, ws)


@pytest.mark.parametrize(
    ("names", "line", "recall"),
    [
        (("Frame",), "x = Frame(a)", 1.0),
        (("Frame",), "x = Framework(a)", 0.0),
        (("Frame",), "x = self.Frame(a)", 0.0),
        (("Frame",), "x = MyFrame(a)", 0.0),
        (("nodes.Name",), "n = nodes.Name('x', 'load')", 1.0),
        (("nodes.Name",), "n = nodes.NameRef('x')", 0.0),
        (("nodes.Name",), "n = Name('x')", 0.0),
        (("nodes.Name",), "n = other_nodes.Name('x')", 0.0),
        (("helper", "CONST"), "helper(CONSTANT)", 0.5),
        ((), "anything", 0.0),
    ],
)
def test_identifier_recall(names: tuple[str, ...], line: str, recall: float) -> None:
    assert identifier_recall(names, line) == recall


def test_first_line_of_the_accepted_suggestion() -> None:
    text = "def f():\n    \nreturn_after = 1\n"
    offset = len("def f():\n    ")
    before, after = text[:offset], text[offset:]
    two = Reply("x = g()\n    y = 2", buffer=before + "x = g()\n    y = 2" + after)
    assert suggestion_first_line(text, offset, two) == "x = g()"
    # A dedent replaces the indentation: read where it lands.
    dedent = Reply("return 1", buffer="def f():\nreturn 1\nreturn_after = 1\n")
    assert suggestion_first_line(text, offset, dedent) == "return 1"
    assert (
        suggestion_first_line(
            text, offset, Reply("\n    y = 2", buffer=before + "\n    y = 2" + after)
        )
        == ""
    )
    assert suggestion_first_line(text, offset, Reply(None)) == ""


def test_score_summary_and_table(tmp_path: Path) -> None:
    task = core_tasks(tmp_path)[line_of("other = M(y)")]
    hit = score(task, "file-only", "other = M(y)   ", True, 0.5)
    assert hit["exact_match"] and hit["edit_similarity"] == 1.0 and hit["identifier_recall"] == 1.0
    miss = score(task, "file-only", "other = Mock(y)", True, 1.5)
    assert (
        not miss["exact_match"]
        and 0 < miss["edit_similarity"] < 1
        and miss["identifier_recall"] == 0.0
    )
    none = score(task, "file-only", "", False, 0.1)
    s = summary([hit, miss, none])
    assert s["n"] == 3 and s["exact_match"] == pytest.approx(1 / 3) and s["offered"] == 2
    assert s["identifier_recall"] == pytest.approx(1 / 3)
    assert s["latency_mean_s"] == pytest.approx(0.7) and s["latency_p50_s"] == 0.5
    md = table({"file-only": s, "repo-context": summary([])})
    assert "| file-only | 3 | 33.3% |" in md and "| 2/3 | 0.70 | 0.50 |" in md
    assert "| repo-context | 0 |" in md
