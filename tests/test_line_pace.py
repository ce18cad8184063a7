"""`LinePace`: where a suggestion that must be done by a deadline stops (engine/base.py)."""

from __future__ import annotations

from lsp_server.engine.base import LinePace


def test_it_stops_at_a_line_end_when_one_more_line_would_end_past_the_deadline() -> None:
    pace = LinePace(start=0.0, deadline=1.0)
    assert not pace.next_too_late("x = 1", 0.3)  # no line end yet
    assert not pace.next_too_late("x = 1\n", 0.3)  # 0.3 + 0.3 is before the deadline
    assert not pace.next_too_late("x = 1\ny = 2", 0.5)
    other = LinePace(start=0.0, deadline=1.0)
    assert not other.next_too_late("x = 1\n", 0.3)
    assert not other.next_too_late("x = 1\ny = 2\n", 0.6)  # 0.3 more: 0.9, still in time
    assert pace.next_too_late("x = 1\ny = 2\n", 0.75)  # that line took 0.45: 1.2 is past it


def test_the_first_line_is_timed_from_the_start_and_leading_breaks_are_no_line() -> None:
    pace = LinePace(start=10.0, deadline=10.5)
    assert not pace.next_too_late("\n", 10.4)  # the cursor at a line end: the suggestion starts below
    assert not pace.next_too_late("\n    lex = shlex(s)", 10.4)
    assert pace.next_too_late("\n    lex = shlex(s)\n", 10.3)  # 0.3 for the line: 10.6 is too late


def test_a_line_end_counts_once() -> None:
    pace = LinePace(start=0.0, deadline=10.0)
    assert not pace.next_too_late("a\n", 1.0)
    assert not pace.next_too_late("a\n  ", 9.5)  # the same line end, read again: not judged twice
    assert pace.next_too_late("a\n  b\n", 9.5)  # the second line took 8.5
