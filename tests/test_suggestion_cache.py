from __future__ import annotations

from lsp_server.completion.cache import SuggestionCache
from lsp_server.completion.query import HEAD, TAIL, CursorState
from lsp_server.postprocess import Suggestion as S

BEFORE = "def area(r):\n    "
AFTER = "\n\nprint(area(2))\n"


def test_typing_the_suggestion_returns_its_rest() -> None:
    cache = SuggestionCache()
    cache.remember("u", BEFORE, AFTER, [S("return 3.14 * r * r")])
    assert cache.lookup("u", BEFORE + "ret", AFTER) == [S("urn 3.14 * r * r")]
    assert cache.lookup("u", BEFORE + "return 3.14 * r", AFTER) == [S(" * r")]


def test_diverging_or_edited_text_misses() -> None:
    cache = SuggestionCache()
    cache.remember("u", BEFORE, AFTER, [S("return 3.14 * r * r")])
    assert cache.lookup("u", BEFORE + "pri", AFTER) is None  # typed something else
    assert cache.lookup("u", BEFORE + "ret", AFTER + "# edit below") is None  # suffix changed
    assert cache.lookup("u", "x = 1\n" + BEFORE + "ret", AFTER) is None  # text above changed
    assert cache.lookup("other", BEFORE + "ret", AFTER) is None
    assert cache.lookup("u", BEFORE + "return 3.14 * r * r", AFTER) is None  # fully typed


def test_a_dedent_is_not_typed_through() -> None:
    cache = SuggestionCache()
    cache.remember("u", BEFORE + "    ", AFTER, [S("return 1", replace=4)])
    assert cache.lookup("u", BEFORE + "    ", AFTER) == [S("return 1", replace=4)]  # same place
    assert cache.lookup("u", BEFORE + "    r", AFTER) is None


def test_exact_position_hits_and_lru_bound() -> None:
    cache = SuggestionCache(capacity=2)
    cache.remember("u", "a", "z", [S("1")])
    cache.remember("u", "b", "z", [S("2")])
    cache.remember("u", "c", "z", [S("3")])
    assert cache.lookup("u", "c", "z") == [S("3")]
    assert cache.lookup("u", "a", "z") is None  # evicted
    cache.forget("u")
    assert cache.lookup("u", "c", "z") is None


def test_typed_through_is_one_rule_for_the_cache_and_running_jobs() -> None:
    state = CursorState.of(BEFORE, AFTER)
    text = "return 3.14 * r * r"
    assert state.typed_through(BEFORE + "ret", AFTER, text) == "urn 3.14 * r * r"
    assert state.typed_through(BEFORE + text, AFTER, text) == ""  # all typed: the caller decides
    assert state.typed_through(BEFORE, AFTER, text) is None  # nothing typed: that is the state itself
    assert state.typed_through(BEFORE + "pri", AFTER, text) is None  # typed something else
    assert state.typed_through(BEFORE + "ret", AFTER + "# edit", text) is None  # text after changed
    assert state.typed_through("x" + BEFORE[1:] + "ret", AFTER, text) is None  # text before changed
    # A state is its offset and the text around it: edits beyond TAIL and HEAD are not seen.
    far = "#" * TAIL + BEFORE
    assert CursorState.of(far, AFTER).typed_through("=" + far[1:] + "ret", AFTER, text) == "urn 3.14 * r * r"
    assert state.typed_through(BEFORE + "ret", AFTER + "x" * HEAD, text) is None
    assert CursorState.of(BEFORE, "y" * HEAD).typed_through(BEFORE + "r", "y" * HEAD + "z", text) == "eturn 3.14 * r * r"
