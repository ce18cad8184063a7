"""Prompt-lookup drafting: which tokens are proposed (pure; no model)."""

from __future__ import annotations

from lsp_server.engine.llama_cpp import lookup_draft


def test_drafts_what_followed_the_latest_match_of_the_last_tokens() -> None:
    history = [1, 2, 3, 4, 10, 11, 12, 9, 2, 3, 4, 20, 21, 22, 23, 7, 2, 3, 4]
    assert lookup_draft(history, 3) == [20, 21, 22]  # the later of two matches of (2, 3, 4)
    assert lookup_draft(history, 1) == [20]


def test_no_draft_without_a_long_enough_match() -> None:
    assert lookup_draft([1, 2, 3, 4, 5, 6], 3) == []  # nothing repeats
    assert lookup_draft([5, 6, 1, 7, 6, 1], 3) == []  # two-token matches are too weak to pay
    assert lookup_draft([1, 2], 3) == []


def test_a_match_running_into_the_end_drafts_the_repeat() -> None:
    assert lookup_draft([8, 8, 8, 8, 8], 2) == [8]
