import pytest

from bench.scoring import (
    edit_similarity,
    exact_match,
    first_line_matches,
    levenshtein,
    normalize_code,
    percentile,
)


def test_normalize_ignores_trailing_space_and_outer_blank_lines():
    assert normalize_code("\n  x = 1   \n\n") == "  x = 1"
    assert normalize_code("a\n\nb") == "a\n\nb"


def test_exact_match_is_whitespace_tolerant_only_at_line_ends():
    assert exact_match("    return x\n", "    return x")
    assert not exact_match("  return x", "    return x")
    assert not exact_match("", "    return x")


@pytest.mark.parametrize(
    ("a", "b", "d"),
    [
        ("", "", 0),
        ("abc", "", 3),
        ("kitten", "sitting", 3),
        ("flaw", "lawn", 2),
        ("same", "same", 0),
    ],
)
def test_levenshtein(a, b, d):
    assert levenshtein(a, b) == d
    assert levenshtein(b, a) == d


def test_edit_similarity_bounds():
    assert edit_similarity("return x", "return x") == 1.0
    assert edit_similarity("", "return x") == 0.0
    assert edit_similarity("", "") == 1.0
    assert edit_similarity("kitten", "sitting") == pytest.approx(1 - 3 / 7)


def test_percentile():
    assert percentile([], 50) is None
    assert percentile([3.0], 95) == 3.0
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([5, 1, 3], 100) == 5
    assert percentile(list(range(101)), 95) == pytest.approx(95)


@pytest.mark.parametrize(
    ("suggestion", "typed", "ok"),
    [
        ("x = 1", "x = 1\n    y = 2", True),
        ("x = 1\n    y = 3", "x = 1\n    y = 2", True),  # only the first line counts
        ("x = 1  ", "x = 1", True),
        ("x = ", "x = 1\n", False),  # stops short of the line end
        ("x = 12", "x = 1\n", False),
        ("", "x = 1", False),
        ("   ", "x = 1", False),
        ("\n    y = 2", "\n    y = 2\n", True),  # starts at the end of a line
        ("\n    y = 2", "    y = 2\n", False),
        ("return a", "return a", True),
    ],
)
def test_first_line_matches(suggestion, typed, ok):
    assert first_line_matches(suggestion, typed) is ok
