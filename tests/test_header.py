from __future__ import annotations

from lsp_server.context.header import import_header, statements
from lsp_server.context.window import PromptBudget, build_prompt


def words(text: str) -> int:
    """A stand-in tokenizer: one token per whitespace-separated word (pure tests need no model)."""
    return len(text.split())


def lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


PY_HEAD = '''"""Module docstring.

from the start of a sentence, not an import
"""
import os
import sys, re
from typing import (
    Any,
    Callable,
)
from .models import Frame, \\
    Window

if TYPE_CHECKING:
    from .heavy import Thing


def f():
    import json
'''


def test_python_statements_whole_and_only_at_column_0() -> None:
    assert statements(lines(PY_HEAD), "python") == [
        "import os\n",
        "import sys, re\n",
        "from typing import (\n    Any,\n    Callable,\n)\n",
        "from .models import Frame, \\\n    Window\n",
    ]


def test_other_languages_use_their_own_statements() -> None:
    rust = "//! crate docs\nuse std::io;\nuse crate::model::{\n    Frame,\n    Window,\n};\nfn main() {}\n"
    assert statements(lines(rust), "rust") == [
        "use std::io;\n",
        "use crate::model::{\n    Frame,\n    Window,\n};\n",
    ]
    ts = "import {\n  a,\n  b,\n} from './x';\nimport * as y from 'y';\nconst z = 1;\n"
    assert statements(lines(ts), "typescript") == [
        "import {\n  a,\n  b,\n} from './x';\n",
        "import * as y from 'y';\n",
    ]
    c = '/* c */\n#include <stdio.h>\n#include "frame.h"\n#define X 1\n'
    assert statements(lines(c), "c") == ["#include <stdio.h>\n", '#include "frame.h"\n']
    # Python's starts are not a Rust file's: a `use` line in prose is no import there.
    assert statements(lines("use the force\nimport os\n"), "python") == ["import os\n"]


def test_a_bracket_in_a_comment_opens_nothing() -> None:
    text = "import os  # (see below\nimport re\n"
    assert statements(lines(text), "python") == ["import os  # (see below\n", "import re\n"]
    js = "import a from 'a'; // {old\nimport b from 'b';\n"
    assert statements(lines(js), "javascript") == ["import a from 'a'; // {old\n", "import b from 'b';\n"]


def test_an_unclosed_bracket_is_not_taken() -> None:
    half = "import os\nfrom x import (\n    a,\n" + "    b,\n" * 100
    assert statements(lines(half), "python") == ["import os\n"]


def test_header_keeps_the_nearest_statements_within_budget_in_file_order() -> None:
    text = lines("import a\nimport b\nfrom .c import d\n\nx = 1\n")
    assert import_header(text, "python", 100, words) == "import a\nimport b\nfrom .c import d\n\n\n"
    # 6 tokens: the last statement (4 words) and one before it (2 words), not the first.
    assert import_header(text, "python", 6, words) == "import b\nfrom .c import d\n\n\n"
    assert import_header(text, "python", 3, words) == ""
    assert import_header(text, "python", 0, words) == ""
    assert import_header(lines("x = 1\n"), "python", 100, words) == ""


BODY = "".join(f"    x{i} = frame.width + {i}\n" for i in range(200))
SOURCE = "import os\nfrom .models import Frame\n\n\ndef render(frame):\n" + BODY


def test_window_below_the_imports_gets_them_before_its_first_line() -> None:
    offset = SOURCE.index("x150")
    plain, anchor = build_prompt(SOURCE, offset, PromptBudget(60, 9), words, language_id="python")
    assert anchor.start_line > 5 and "import" not in plain.prefix
    prompt, same = build_prompt(
        SOURCE, offset, PromptBudget(60, 9, import_tokens=20), words, language_id="python"
    )
    assert same == anchor  # the window itself is the same: the header comes on top of it
    assert prompt.prefix == "import os\nfrom .models import Frame\n\n\n" + plain.prefix
    assert (prompt.middle, prompt.suffix) == (plain.middle, plain.suffix)


def test_window_that_reaches_the_imports_is_unchanged() -> None:
    offset = SOURCE.index("x3 ")
    plain, _ = build_prompt(SOURCE, offset, PromptBudget(60, 9), words, language_id="python")
    prompt, _ = build_prompt(
        SOURCE, offset, PromptBudget(60, 9, import_tokens=20), words, language_id="python"
    )
    assert plain.prefix.startswith("import os\n") and prompt == plain


def test_header_holds_while_typing_below_the_window_and_follows_an_edit_of_the_imports() -> None:
    budget = PromptBudget(60, 9, import_tokens=20)
    offset = SOURCE.index("x150")
    first, anchor = build_prompt(SOURCE, offset, budget, words, language_id="python")
    typed = SOURCE[:offset] + "y = Fr" + SOURCE[offset:]
    second, _ = build_prompt(typed, offset + 6, budget, words, anchor, language_id="python")
    assert second.prefix == first.prefix  # the cached tokens before the middle still hold
    edited = "import os\nfrom .models import Frame, Window\n" + SOURCE[SOURCE.index("\n\n\ndef") :]
    moved = edited.index("x150")
    third, _ = build_prompt(edited, moved, budget, words, anchor, language_id="python")
    assert third.prefix.startswith("import os\nfrom .models import Frame, Window\n\n\n")
