"""The KV cache of recently used documents on disk, so a restarted server answers at once.

One file per document holds the prompt tokens that were in the KV cache and llama.cpp's state of
the sequence that evaluated them. A state is only valid for the model and engine settings that
made it: both are the store's ``fingerprint``, hashed into every file name and checked in the
header. Within one document, a stored state serves a new prompt through the longest common token
prefix, as the live cache does: a KV entry depends only on the tokens before it, so a changed
file or changed prompt settings (which change the tokens) invalidate exactly the part after the
first different token, and nothing stale is ever used.

Files are written whole to a temporary name and renamed; a file that cannot be read, whose
header does not match or whose checksum fails is removed and ignored. The store is bounded in
files and bytes; the least recently used files go first (mtime, touched on each use).

No llama.cpp here: `DocumentStates` works on any `StateCache` (the adapter), so unit tests give
it a fake one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import struct
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

MAGIC = b"FIMKV\x01\n"
SUFFIX = ".kv"
MAX_HEADER = 1 << 16
# A cache shorter than this is cheaper to evaluate again than to write and read back.
MIN_TOKENS = 64
# Restore only when the stored state covers this many more of the prompt's tokens than the
# live cache: reading a state file costs about what evaluating a few dozen tokens does.
MIN_GAIN = 32


@dataclass(frozen=True)
class SavedState:
    tokens: list[int]
    blob: bytes


def common_prefix(a: npt.NDArray[np.intc] | list[int], b: list[int]) -> int:
    """How many leading tokens ``a`` and ``b`` share."""
    n = min(len(a), len(b))
    if not n:
        return 0
    diff = np.nonzero(np.asarray(a[:n], dtype=np.int64) != np.asarray(b[:n], dtype=np.int64))[0]
    return int(diff[0]) if diff.size else n


class KvStore:
    """State files in ``root`` for one fingerprint (model file + engine settings)."""

    def __init__(self, root: Path, fingerprint: str, max_files: int, max_bytes: int) -> None:
        self.root = root
        self.fingerprint = fingerprint
        self.max_files = max_files
        self.max_bytes = max_bytes

    def path_for(self, session: str) -> Path:
        key = hashlib.sha256(f"{self.fingerprint}\0{session}".encode()).hexdigest()[:40]
        return self.root / f"{key}{SUFFIX}"

    def tokens(self, session: str) -> list[int] | None:
        """The tokens of ``session``'s stored state, without reading the state itself."""
        found = self._read(session, with_blob=False)
        return found.tokens if found is not None else None

    def load(self, session: str) -> SavedState | None:
        """``session``'s stored state, checked whole; None when there is none or it is bad."""
        found = self._read(session, with_blob=True)
        if found is not None:
            with contextlib.suppress(OSError):
                os.utime(self.path_for(session))  # recently used
        return found

    def save(self, session: str, tokens: list[int], blob: bytes) -> None:
        """Write ``session``'s state (replacing an older one), then keep the store in bounds.
        Never raises: a cache that cannot be written is only a slower start."""
        if self.max_files <= 0 or len(blob) > self.max_bytes:
            return
        data = np.asarray(tokens, dtype="<i4").tobytes()
        header = json.dumps({"fingerprint": self.fingerprint, "session": session, "n_tokens": len(tokens),
                             "n_bytes": len(blob), "crc32": zlib.crc32(blob, zlib.crc32(data))}).encode()
        path = self.path_for(session)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=SUFFIX, dir=self.root)
            with os.fdopen(fd, "wb") as out:
                out.write(MAGIC + struct.pack("<I", len(header)) + header)
                out.write(data)
                out.write(blob)
            os.replace(tmp, path)
        except OSError as err:
            log.debug("KV state not saved to %s: %s", path, err)
            with contextlib.suppress(OSError, UnboundLocalError):
                os.unlink(tmp)
            return
        self.evict()

    def evict(self) -> None:
        """Remove the least recently used files until at most max_files and max_bytes remain
        (the files of other fingerprints count too: they share the directory)."""
        try:
            entries = [(p.stat(), p) for p in self.root.glob(f"*{SUFFIX}")]
        except OSError:
            return
        entries.sort(key=lambda e: e[0].st_mtime_ns, reverse=True)
        total = 0
        for i, (st, path) in enumerate(entries):
            total += st.st_size
            if i >= self.max_files or total > self.max_bytes:
                with contextlib.suppress(OSError):
                    path.unlink()

    def _read(self, session: str, with_blob: bool) -> SavedState | None:
        path = self.path_for(session)
        try:
            with path.open("rb") as src:
                found = self._parse(src.read, session, with_blob)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, struct.error) as err:
            found = None
            log.debug("KV state %s unreadable: %s", path, err)
        if found is None:
            log.info("removing a KV state file that does not match: %s", path)
            with contextlib.suppress(OSError):
                path.unlink()
        return found

    def _parse(self, read: _Read, session: str, with_blob: bool) -> SavedState | None:
        if read(len(MAGIC)) != MAGIC:
            return None
        (size,) = struct.unpack("<I", read(4))
        if size > MAX_HEADER:
            return None
        head = json.loads(read(size))
        if head["fingerprint"] != self.fingerprint or head["session"] != session:
            return None
        n_tokens, n_bytes = int(head["n_tokens"]), int(head["n_bytes"])
        data = read(4 * n_tokens)
        if len(data) != 4 * n_tokens or n_tokens <= 0:
            return None
        tokens = np.frombuffer(data, dtype="<i4").tolist()
        if not with_blob:
            return SavedState(tokens, b"")
        blob = read(n_bytes + 1)
        if len(blob) != n_bytes or zlib.crc32(blob, zlib.crc32(data)) != head["crc32"]:
            return None
        return SavedState(tokens, blob)


class _Read(Protocol):
    def __call__(self, n: int = -1, /) -> bytes: ...


class StateCache(Protocol):
    """What `DocumentStates` needs of the live KV cache (`LlamaAdapter` has it)."""

    def cached_tokens(self) -> npt.NDArray[np.intc]: ...

    def state_bytes(self) -> bytes: ...

    def restore(self, blob: bytes, tokens: list[int]) -> bool: ...


class DocumentStates:
    """Which document's prompt the one KV cache holds. When another document takes the cache
    over, the one leaving is saved to disk; the one arriving gets its stored state back when
    that covers more of its prompt than the live cache does."""

    def __init__(self, store: KvStore, cache: StateCache) -> None:
        self.store = store
        self._cache = cache
        self._session: str | None = None
        self._clean: list[int] | None = None  # the tokens as last saved or restored
        self._stored: list[int] | None = None  # the session's state on disk, while not yet used
        self.saved = 0
        self.restored = 0  # tokens restored from disk, all sessions

    def enter(self, session: str, tokens: list[int], guess: bool = False) -> int:
        """Before ``tokens`` are evaluated for ``session``: the tokens restored from disk (0: none).

        The stored state stays a candidate for every prompt of the session until it is used: a
        reopened document's first prompt is often its prewarm (the file's head), which shares
        little with the state saved at the cursor, and the request that follows shares all of it.
        With ``guess`` (the tokens are a prewarm's guess at the next prompt, not a request's), a
        stored state is restored whatever it shares with them: it was saved at the cursor the
        user left, where an editor reopens the file.
        """
        if session != self._session:
            self.leave()
            self._session = session
            self._stored = self.store.tokens(session)
        if self._stored is None:
            return 0
        live = common_prefix(self._cache.cached_tokens(), tokens)
        if not guess and common_prefix(self._stored, tokens) < live + MIN_GAIN:
            return 0
        self._stored = None
        state = self.store.load(session)
        if state is None or not self._cache.restore(state.blob, state.tokens):
            return 0
        self._clean = state.tokens
        self.restored += len(state.tokens)
        return len(state.tokens)

    def stored_prefix(self, session: str, tokens: list[int]) -> int:
        """The tokens of ``tokens`` the session's state on disk, not yet used, would restore (0:
        none), without restoring it."""
        stored = self._stored if session == self._session else self.store.tokens(session)
        return common_prefix(stored, tokens) if stored else 0

    def leave(self) -> None:
        """Save the current document's state unless it is short or already on disk as it is."""
        session, self._session, self._stored = self._session, None, None
        cached = self._cache.cached_tokens()
        if session is None or len(cached) < MIN_TOKENS:
            return
        tokens = cached.tolist()
        if tokens != self._clean:
            self.store.save(session, tokens, self._cache.state_bytes())
            self.saved += 1
        self._clean = None
