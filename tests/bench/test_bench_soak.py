"""The soak benchmark's own bookkeeping (no server)."""

from __future__ import annotations

from bench.soak import Doc, _slope, _type_one


class Sink:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict]] = []

    def notify(self, method: str, params: dict) -> None:
        self.sent.append((method, params))


def test_keystrokes_keep_the_model_of_the_document_in_step() -> None:
    doc = Doc("file:///a.py", ["def f():", ""], line=0, col=8)
    sink = Sink()
    for ch in "\n    x":
        _type_one(sink, doc, ch)  # type: ignore[arg-type]
    assert doc.lines == ["def f():", "    x", ""] and (doc.line, doc.col) == (1, 5)
    assert [p["textDocument"]["version"] for _, p in sink.sent] == [2, 3, 4, 5, 6, 7]


def test_rss_slope_is_least_squares_per_minute() -> None:
    assert _slope([(1.0, 100.0), (2.0, 101.0), (3.0, 102.0)]) == 1.0
    assert _slope([(1.0, 100.0)]) == 0.0
