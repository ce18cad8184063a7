"""Next-edit prompt: the region around the cursor, the diffs, and each edit format's layout."""

from __future__ import annotations

import pytest

from lsp_server.documents import Snapshot
from lsp_server.nextedit.history import Hunk
from lsp_server.nextedit.prompt import (
    NoEditFormat,
    RegionBudget,
    build_prompt,
    choose_format,
    choose_region,
    unified_diff,
)

URI = "file:///pkg/mod.py"
LINES = [f"line_{i} = {i}\n" for i in range(100)]
DOC = Snapshot(URI, "".join(LINES), 1, "python")


def words(text: str) -> int:
    return len(text.split())


def cursor_on(line: int) -> int:
    return DOC.line_starts[line] + 3


def test_region_holds_the_cursor_line_and_grows_more_below_within_the_budget() -> None:
    region = choose_region(DOC, cursor_on(50), RegionBudget(region_tokens=40), words)
    assert region.start_line <= 50 < region.end_line
    above, below = 50 - region.start_line, region.end_line - 51
    assert below > above >= 1
    assert words(region.text) + region.text.count("\n") <= 40 + 4
    assert region.text == DOC.text[region.start : region.end]
    assert region.text[region.cursor :].startswith("e_50")


def test_region_stops_at_the_file_ends_and_at_overlong_lines() -> None:
    region = choose_region(DOC, cursor_on(0), RegionBudget(region_tokens=10_000), words)
    assert region.start_line == 0 and region.end_line - region.start_line == 60  # MAX_REGION_LINES
    doc = Snapshot(URI, "a = 1\n" + "x" * 5000 + "\nb = 2\nc = 3\n", 1, "python")
    region = choose_region(doc, doc.line_starts[2], RegionBudget(region_tokens=10_000), words)
    assert region.start_line == 2 and region.text == "b = 2\nc = 3\n"


def test_unified_diff_of_a_hunk() -> None:
    hunk = Hunk(URI, 4, ("def f(n):",), ("def f(count):",))
    assert unified_diff(hunk, "pkg/mod.py") == (
        "--- a/pkg/mod.py\n+++ b/pkg/mod.py\n@@ -5,1 +5,1 @@\n-def f(n):\n+def f(count):\n"
    )


def test_format_choice_by_setting_name_and_tokens() -> None:
    chat = {"<|im_start|>", "<|im_end|>", "<|file_sep|>"}
    assert choose_format("auto", "Qwen2.5 Coder 0.5B Instruct", chat.__contains__) == "chatml"
    assert choose_format("auto", "sweep-next-edit-1.5b", chat.__contains__) == "sweep"
    assert choose_format("auto", "zeta", set().__contains__) == "zeta"
    assert choose_format("zeta", "anything", set().__contains__) == "zeta"
    with pytest.raises(NoEditFormat):
        choose_format("auto", "starcoder2", set().__contains__)
    with pytest.raises(NoEditFormat):
        choose_format("unified", "x", chat.__contains__)


def path(uri: str) -> str:
    return uri.removeprefix("file:///")


HUNK = Hunk(URI, 49, ("line_49 = 49",), ("line_49 = 4900",))


def test_chatml_prompt_has_diffs_region_and_an_open_answer_fence() -> None:
    prompt = build_prompt("chatml", DOC, cursor_on(50), [HUNK], path, words, RegionBudget(region_tokens=40))
    texts = [s.text for s in prompt.segments]
    assert [s.text for s in prompt.segments if s.special] == ["<|im_start|>", "<|im_end|>"] * 2 + ["<|im_start|>"]
    user = texts[5]
    assert "```diff\n--- a/pkg/mod.py" in user and "+line_49 = 4900\n" in user
    assert f"The region:\n```python\n{prompt.region.text}```" in user
    assert user.index("Code above") < user.index("The region") < user.index("Code below") < user.index("```diff")
    assert texts[-2] == "assistant\n```python\n"
    assert "My last edit replaced `49` with `4900` on line 50." in user
    # The answer starts as a copy of the region through the cursor line.
    assert texts[-1] == prompt.prefill and prompt.region.text.startswith(prompt.prefill)
    assert prompt.prefill.endswith("line_50 = 50\n")
    assert prompt.end_marker == "```"
    no_history = build_prompt("chatml", DOC, cursor_on(50), [], path, words, RegionBudget(region_tokens=40))
    assert "```diff" not in "".join(s.text for s in no_history.segments)
    assert no_history.region == prompt.region


def test_zeta_and_sweep_layouts() -> None:
    zeta = build_prompt("zeta", DOC, cursor_on(50), [HUNK], path, words, RegionBudget(region_tokens=40))
    text = "".join(s.text for s in zeta.segments)
    assert 'User edited "pkg/mod.py"' in text and "<|user_cursor_is_here|>" in text
    assert text.endswith("<|editable_region_start|>\n") and zeta.end_marker == "<|editable_region_end|>"
    sweep = build_prompt("sweep", DOC, cursor_on(50), [HUNK], path, words, RegionBudget(region_tokens=40))
    texts = [s.text for s in sweep.segments if not s.special]
    assert texts[0].startswith("pkg/mod.py.diff\noriginal:\nline_49 = 49\nupdated:\nline_49 = 4900\n")
    assert texts[1].startswith("original/pkg/mod.py\n") and "line_49 = 49\n" in texts[1]
    assert texts[2].startswith("current/pkg/mod.py\n") and texts[-1].startswith("updated/pkg/mod.py\n")
    assert sweep.end_marker == ""
