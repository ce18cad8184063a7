import asyncio

from bench.replay import Reply, replay, summarize
from bench.traces import Keystroke, Trace


class FakeCompleter:
    """Answers after ``delay`` seconds with the rest of the line the user is about to type."""

    def __init__(self, delay: float, target: str):
        self.delay = delay
        self.target = target
        self.calls = 0
        self.cancelled = 0
        self.changes: list[tuple[int, str]] = []

    def open(self, uri, text, language="python"):
        pass

    def close(self, uri):
        pass

    def change(self, uri, version, start, text):
        self.changes.append((version, text))

    async def complete(self, uri, text, offset, automatic):
        self.calls += 1
        try:
            await asyncio.sleep(self.delay)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        rest = self.target[offset:]
        line = (
            rest.split("\n", 1)[0] if rest.split("\n", 1)[0] else "\n" + rest[1:].split("\n", 1)[0]
        )
        return Reply(line or None)


def _trace() -> Trace:
    # "ab" typed quickly, a 0.5 s pause, then "c", then the 0.4 s look at the end.
    initial = "x = \ny = 1\n"
    keys = [Keystroke(0.0, "a"), Keystroke(0.05, "b"), Keystroke(0.55, "c")]
    return Trace("t", "", "", initial, 4, "abc", keys, end_t=0.95)


def test_fast_server_fills_every_pause_and_matches_the_typed_line():
    tr = _trace()
    fake = FakeCompleter(0.01, tr.target_text)
    recs, keys = asyncio.run(replay(tr, fake, "every-change", uri="u"))
    s = summarize([(recs, keys)])
    assert fake.calls == 3 and len(fake.changes) == 3
    assert s.pauses == 2 and s.pauses_with_suggestion == 2
    assert s.first_line_match == s.shown == 3
    assert s.latency_shown_s["n"] == 3


def test_slow_server_is_cancelled_and_shows_nothing_in_time():
    tr = _trace()
    fake = FakeCompleter(0.7, tr.target_text)
    recs, keys = asyncio.run(replay(tr, fake, "every-change", uri="u"))
    s = summarize([(recs, keys)])
    assert fake.cancelled == 3  # each keystroke (and the end) cancels the previous request
    assert s.shown == 0 and s.pauses_with_suggestion == 0 and s.outcomes == {"cancelled": 3}


def test_debounce_only_asks_after_quiet():
    tr = _trace()
    fake = FakeCompleter(0.01, tr.target_text)
    recs, keys = asyncio.run(replay(tr, fake, "debounce", uri="u"))
    # "a" is followed by "b" within 200 ms: no request for it.
    assert [r.k for r in recs] == [1, 2]
    s = summarize([(recs, keys)])
    assert s.pauses_with_suggestion == 2
    assert all(r.latency >= 0.2 for r in recs)
