"""The next-edit set (bench/nextedit_set.py) on this machine's standard library: every category
is found, a no-edit case expects the buffer as it is, and the others expect a change."""

from __future__ import annotations

import hashlib

import pytest

from bench.nextedit_set import CATEGORIES, NO_EDIT, Case, build
from bench.traces import stdlib_dir


@pytest.fixture(scope="module")
def dev() -> list[Case]:
    return build(selection="dev")


def test_the_set_has_every_category_and_expectations_that_match_it(dev: list[Case]) -> None:
    cases = dev
    assert {c.category for c in cases} == set(CATEGORIES)
    for case in cases:
        assert case.buffer[case.first_start : case.first_end] != case.first_old  # the first edit is made
        assert (case.expected == case.buffer) == (case.category in NO_EDIT)
    lookalikes = [c.case_id.rsplit(":", 1)[1] for c in cases if c.category == "no_edit_lookalike"]
    assert {"use", "literal"} <= set(lookalikes)  # both shapes of a complete edit that looks carryable
    first = cases[0]
    assert hashlib.sha256((stdlib_dir() / first.module).read_bytes()).hexdigest() == first.sha256


def test_the_held_out_selection_shares_no_module_with_the_dev_one(dev: list[Case]) -> None:
    held = {c.module for c in build(selection="heldout")}
    assert held and not {c.module for c in dev} & held
