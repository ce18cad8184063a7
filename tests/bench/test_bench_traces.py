import textwrap

import pytest

from bench.traces import find_functions, make_trace, pick_traces, type_body

SOURCE = textwrap.dedent('''\
    import os


    def short(a):
        return a


    class K:
        def method(self, x):
            """Doc."""
            y = x * 2

            for i in range(3):
                y += i
            return y


    def one(): return 1
''')


def test_find_functions_skips_docstrings_and_one_liners():
    spans = {s.name: s for s in find_functions(SOURCE)}
    assert set(spans) == {"short", "method"}
    m = spans["method"]
    assert SOURCE[m.body_start : m.body_end] == (
        "        y = x * 2\n\n        for i in range(3):\n            y += i\n        return y"
    )


def test_trace_retypes_the_original_exactly():
    span = next(s for s in find_functions(SOURCE) if s.name == "method")
    tr = make_trace(SOURCE, span, seed=3, name="t")
    assert '"""Doc."""' in tr.initial_text and "y = x * 2" not in tr.initial_text
    assert tr.target_text == SOURCE
    assert "".join(k.text for k in tr.keystrokes) == tr.body
    # Enter carries the next line's indentation (auto-indent); blank lines carry none.
    enters = [k.text for k in tr.keystrokes if "\n" in k.text]
    assert enters == ["\n", "\n        ", "\n            ", "\n        "]
    ts = [k.t for k in tr.keystrokes]
    assert ts == sorted(ts) and tr.end_t > ts[-1]


def test_typing_pace_is_human_and_seeded():
    lines = ["    " + "x = compute(value, other) + 1" for _ in range(30)]
    text, keys = type_body(lines, __import__("random").Random(1))
    chars = sum(len(k.text) for k in keys if "\n" not in k.text)
    typing_time = sum(
        b.t - a.t
        for a, b in zip(keys, keys[1:], strict=False)
        if b.t - a.t < 0.3 and "\n" not in b.text
    )
    cps = chars / typing_time
    assert 6.5 <= cps <= 14
    gaps = [b.t - a.t for a, b in zip(keys, keys[1:], strict=False)]
    assert sum(g >= 1.5 for g in gaps) >= 1  # a thinking pause
    assert sum(0.3 <= g for g in gaps) >= 29  # a pause before each Enter
    again = type_body(lines, __import__("random").Random(1))
    assert again == (text, keys)
    assert type_body(lines, __import__("random").Random(2))[1] != keys


def test_pick_traces_from_files(tmp_path):
    (tmp_path / "mod.py").write_text(SOURCE)
    [tr] = pick_traces(
        1, seed=0, min_chars=20, max_chars=500, modules=("missing.py", "mod.py"), root=tmp_path
    )
    assert tr.meta["function"] == "method"
    assert tr.target_text == SOURCE
    assert (
        pick_traces(
            1, seed=0, min_chars=10_000, max_chars=20_000, modules=("mod.py",), root=tmp_path
        )
        == []
    )


@pytest.mark.parametrize("mod", ["textwrap.py", "shlex.py"])
def test_stdlib_modules_yield_traces(mod):
    [tr] = pick_traces(1, seed=0, min_chars=150, max_chars=700, modules=(mod,))
    assert 150 <= len(tr.body) <= 700
    assert tr.target_text == open(tr.source_path, encoding="utf-8").read()
