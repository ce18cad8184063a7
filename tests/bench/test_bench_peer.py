from bench.peer import (
    InfillSettings,
    SuggestionCache,
    infill_context,
    request_body,
    shown_text,
    strip_indent,
)

DOC = "import os\n\ndef f(x):\n    y = x\n    \n    return y\n"


def test_context_splits_like_llama_vscode():
    s = InfillSettings(n_prefix=2, n_suffix=1)
    off = DOC.index("    \n") + 4  # on the indentation-only line
    ctx = infill_context(DOC, off, s)
    assert ctx.input_prefix == "def f(x):\n    y = x\n"  # 2 lines above
    assert ctx.prompt == "" and ctx.strip_indent == 4  # indentation only: sent as an empty prompt
    assert ctx.input_suffix == "\n    return y\n"  # rest of line + 1 line below
    assert ctx.n_indent == 4
    off2 = DOC.index("y = x") + 3
    ctx2 = infill_context(DOC, off2, s)
    assert ctx2.prompt == "    y =" and ctx2.line_suffix == " x"
    body = request_body(ctx2, s)
    assert body["cache_prompt"] is True and body["input_extra"] == []
    assert body["samplers"] == ["top_k", "top_p", "infill"] and body["n_predict"] == 128


def test_shown_text_rules():
    off = DOC.index("    \n") + 4
    ctx = infill_context(DOC, off, InfillSettings())
    assert shown_text(None, ctx) is None
    assert shown_text("  \n\n", ctx) is None
    assert shown_text("z = y + 1\n\n", ctx) == "z = y + 1"  # trailing blank lines dropped
    # Repeating the next line is not a suggestion.
    assert shown_text("return y", infill_context(DOC, off, InfillSettings())) is None
    mid = DOC.index("y = x") + 3
    ctx2 = infill_context(DOC, mid, InfillSettings())
    # Text after the cursor: only the first line, without the suffix it would duplicate.
    assert shown_text(" 2\n    z = 1", ctx2) == " 2"
    assert shown_text(" 2 * x", ctx2) == " 2 *"  # the suffix " x" is already in the buffer


def test_strip_indent():
    assert strip_indent("    z = 1", 4) == "z = 1"
    assert strip_indent("  z = 1", 4) == "z = 1"
    assert strip_indent("      z", 4) == "  z"


def test_cache_answers_exact_and_typed_through():
    s = InfillSettings(max_cache_keys=2)
    doc = "def f(x):\n    ret\n"
    off = doc.index("ret") + 3
    ctx = infill_context(doc, off, s)
    cache = SuggestionCache(2)
    cache.put(ctx, "urn x + 1")
    assert cache.get(ctx) == "urn x + 1"
    typed = doc[:off] + "ur" + doc[off:]
    assert cache.get(infill_context(typed, off + 2, s)) == "n x + 1"
    wrong = doc[:off] + "x" + doc[off:]
    assert cache.get(infill_context(wrong, off + 1, s)) is None
    # LRU: two more keys push the first out.
    for extra in ("a", "b"):
        d2 = doc.replace("ret", "ret" + extra * 5)
        cache.put(infill_context(d2, d2.index("\n    ") + 5 + 8, s), "x")
    assert cache.get(ctx) is None
