"""The on-disk store of documents' KV states (engine/kv_store.py), on fake states: bounds,
invalidation, damaged files, and when a document's state is saved or restored."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt

from lsp_server.engine.kv_store import MIN_GAIN, MIN_TOKENS, DocumentStates, KvStore, common_prefix

TOKENS = list(range(100, 200))


def _store(root: Path, fingerprint: str = "model-a", files: int = 8, size: int = 1 << 20) -> KvStore:
    return KvStore(root, fingerprint, files, size)


def test_a_saved_state_comes_back_whole(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.save("file:///a.py", TOKENS, b"state" * 100)
    found = store.load("file:///a.py")
    assert found is not None and found.tokens == TOKENS and found.blob == b"state" * 100
    assert store.tokens("file:///a.py") == TOKENS
    assert store.load("file:///b.py") is None


def test_another_model_or_setting_never_sees_the_state(tmp_path: Path) -> None:
    _store(tmp_path, "model-a").save("file:///a.py", TOKENS, b"x" * 10)
    assert _store(tmp_path, "model-b").load("file:///a.py") is None


def test_a_header_for_another_fingerprint_is_removed(tmp_path: Path) -> None:
    """A file under the right name whose header names another model (a hash collision, a copied
    file) is not used, and goes."""
    a, b = _store(tmp_path, "model-a"), _store(tmp_path, "model-b")
    b.save("file:///a.py", TOKENS, b"x" * 10)
    b.path_for("file:///a.py").replace(a.path_for("file:///a.py"))
    assert a.load("file:///a.py") is None
    assert not a.path_for("file:///a.py").exists()


def test_damaged_files_are_ignored_and_removed(tmp_path: Path) -> None:
    store = _store(tmp_path)
    path = store.path_for("file:///a.py")
    for damage in (lambda d: d[:-5], lambda d: d[:-1] + bytes([d[-1] ^ 1]), lambda d: b"garbage" + d,
                   lambda d: d[:12], lambda d: b""):
        store.save("file:///a.py", TOKENS, b"state" * 100)
        path.write_bytes(damage(path.read_bytes()))
        assert store.load("file:///a.py") is None
        assert not path.exists()


def test_the_least_recently_used_files_go_first(tmp_path: Path) -> None:
    store = _store(tmp_path, files=2)
    for i, name in enumerate(("a", "b")):
        store.save(name, TOKENS, b"x" * 10)
        os.utime(store.path_for(name), ns=(time.time_ns() - (10 - i) * 10**9,) * 2)
    assert store.load("a") is not None  # now the most recently used
    store.save("c", TOKENS, b"x" * 10)
    assert {p.name for p in tmp_path.iterdir()} == {store.path_for("a").name, store.path_for("c").name}


def test_the_store_stays_within_its_bytes(tmp_path: Path) -> None:
    store = _store(tmp_path, size=2500)
    for name in ("a", "b", "c"):
        store.save(name, TOKENS, b"x" * 1000)
        time.sleep(0.01)
    total = sum(p.stat().st_size for p in tmp_path.iterdir())
    assert total <= 2500 and store.load("c") is not None and store.load("a") is None
    store.save("huge", TOKENS, b"x" * 5000)  # larger than the whole store: not written
    assert store.load("huge") is None


def test_common_prefix() -> None:
    assert common_prefix([1, 2, 3], [1, 2, 4]) == 2
    assert common_prefix(np.array([1, 2], dtype=np.intc), [1, 2, 3]) == 2
    assert common_prefix([], [1]) == 0


class FakeCache:
    """A KV cache that holds tokens, and whose state is their bytes."""

    def __init__(self) -> None:
        self.tokens: list[int] = []

    def cached_tokens(self) -> npt.NDArray[np.intc]:
        return np.asarray(self.tokens, dtype=np.intc)

    def state_bytes(self) -> bytes:
        return np.asarray(self.tokens, dtype=np.int32).tobytes()

    def restore(self, blob: bytes, tokens: list[int]) -> bool:
        self.tokens = np.frombuffer(blob, dtype=np.int32).tolist()
        return self.tokens == tokens


def test_a_document_leaving_the_cache_is_saved_and_restored_when_it_returns(tmp_path: Path) -> None:
    cache, store = FakeCache(), _store(tmp_path)
    states = DocumentStates(store, cache)
    a, b = list(range(1000, 1000 + 2 * MIN_TOKENS)), list(range(5000, 5000 + 2 * MIN_TOKENS))
    assert states.enter("a", a) == 0
    cache.tokens = list(a)  # the engine evaluated a's prompt
    assert states.enter("b", b) == 0 and states.saved == 1  # a went to disk
    cache.tokens = list(b)
    assert states.enter("a", a + [7]) == len(a)  # back, from disk
    assert cache.tokens == a
    assert states.enter("a", a) == 0  # the same document: nothing to swap
    states.leave()
    assert states.saved == 2  # b, once; a was restored unchanged: not written again


def test_a_stored_state_is_used_only_where_it_covers_more_of_the_prompt(tmp_path: Path) -> None:
    cache, store = FakeCache(), _store(tmp_path)
    states = DocumentStates(store, cache)
    a = list(range(1000, 1000 + 4 * MIN_TOKENS))
    store.save("a", a, np.asarray(a, dtype=np.int32).tobytes())
    edited = a[:10] + [1] + a[11:]  # the file changed near its start: the state is worth 10 tokens
    assert states.enter("a", edited) == 0 and cache.tokens == []
    states.leave()
    cache.tokens = a[: len(a) - MIN_GAIN + 1]  # the live cache already holds nearly all of it
    assert states.enter("a", a) == 0


def test_a_stored_state_serves_a_later_prompt_of_the_session_than_its_first(tmp_path: Path) -> None:
    """A reopened document is prewarmed at its head before the first request at the cursor: the
    state saved at the cursor is no use to the head, and must still serve the request."""
    cache, store = FakeCache(), _store(tmp_path)
    at_cursor = [1, 2] + list(range(5000, 5000 + 4 * MIN_TOKENS))
    head = [1, 2] + list(range(9000, 9000 + 2 * MIN_TOKENS))
    store.save("a", at_cursor, np.asarray(at_cursor, dtype=np.int32).tobytes())
    states = DocumentStates(store, cache)
    assert states.enter("a", head) == 0
    cache.tokens = list(head)  # the prewarm evaluated the head
    assert states.enter("a", at_cursor + [7]) == len(at_cursor)
    assert cache.tokens == at_cursor
    assert states.enter("a", at_cursor + [8]) == 0  # used once; the live cache has it now


def test_a_prewarm_of_the_file_head_restores_the_state_saved_at_the_cursor(tmp_path: Path) -> None:
    """The head shares 20 tokens with the state (the file's first lines): a request would not
    restore it for that, a prewarm's guess does, and the engine then keeps it whole."""
    cache, store = FakeCache(), _store(tmp_path)
    at_cursor = list(range(1000, 1000 + 4 * MIN_TOKENS))
    head = at_cursor[:20] + list(range(9000, 9000 + 2 * MIN_TOKENS))
    store.save("a", at_cursor, np.asarray(at_cursor, dtype=np.int32).tobytes())
    assert DocumentStates(store, FakeCache()).enter("a", head) == 0
    assert DocumentStates(store, cache).enter("a", head, guess=True) == len(at_cursor)
    assert cache.tokens == at_cursor


def test_a_short_cache_is_not_saved(tmp_path: Path) -> None:
    cache, store = FakeCache(), _store(tmp_path)
    states = DocumentStates(store, cache)
    states.enter("a", [1, 2, 3])
    cache.tokens = [1, 2, 3]
    states.leave()
    assert states.saved == 0 and not list(tmp_path.iterdir())
