"""The workspace's Python modules, summarized on demand in a background thread: the one module
that reads workspace files (`context.definitions` turns their text into stubs).

Nothing is crawled: a module is read when a buffer imports it (`warm` on open, `definitions`
per request), summarized once (`definitions.summarize`) and kept until its file changes. Files
outside the workspace folders, over `MAX_FILE_BYTES`, binary or unreadable are skipped, and
logged once each at debug level. A request never waits for the index longer than its
``wait_s``: what is not summarized by then is left out of that request's prompt.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from lsp_server.context.definitions import (
    Definition,
    Imported,
    ModuleSummary,
    scan_imports,
    summarize,
    uses,
)

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 1_000_000
MAX_MODULES = 512  # summaries kept (least recently used dropped first)
RECHECK_S = 2.0  # a kept summary's file is stat'ed again after this long
SKIP_RETRY_S = 30.0  # a skipped file is looked at again after this long (logged only once)
MAX_HOPS = 2  # re-exports followed (``from .a import X`` in a package's __init__)


@dataclass(frozen=True)
class _Entry:
    path: Path
    relative: str  # the path a prompt shows: relative to its workspace folder
    stamp: tuple[int, int]  # (mtime_ns, size) when read
    summary: ModuleSummary
    checked: float  # monotonic time of the last stat


class WorkspaceIndex:
    """Module summaries of the files under the workspace folders. Thread-safe."""

    def __init__(self, roots: list[Path] | None = None) -> None:
        self._roots: list[Path] = []
        self._lock = threading.Lock()
        self._entries: OrderedDict[Path, _Entry] = OrderedDict()
        self._pending: dict[Path, concurrent.futures.Future[_Entry | None]] = {}
        self._skipped: dict[Path, float] = {}  # path -> when it was skipped (tried again later)
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="fim-index")
        self.set_roots(roots or [])

    def set_roots(self, roots: list[Path]) -> None:
        resolved = []
        for root in roots:
            try:
                resolved.append(root.resolve())
            except OSError:
                continue
        with self._lock:
            self._roots = resolved
            self._entries.clear()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- requests --------------------------------------------------------------------------------

    def warm(self, text: str, file: str) -> None:
        """Start summarizing what a buffer imports (on open), so its first request finds them.
        Returns at once: the scan and the reads run on the index thread."""
        with contextlib.suppress(RuntimeError):  # closed
            self._pool.submit(self._warm, text, file)

    def _warm(self, text: str, file: str) -> None:
        if self._usable(file):
            for imp in scan_imports(text):
                for path in self._candidates(imp, Path(file)):
                    self._load(path)

    def definitions(self, text: str, file: str, wait_s: float = 0.0) -> list[Definition]:
        """Stubs of the workspace names the buffer imports, in import order, each with its uses
        in the buffer. Waits up to ``wait_s`` for modules not summarized yet."""
        if not self._usable(file):
            return []
        deadline = time.monotonic() + wait_s
        imports = scan_imports(text)
        counts = uses(text, imports)
        out: list[Definition] = []
        seen: set[tuple[str, str]] = set()
        for imp in imports:
            for d in self._resolve(imp, Path(file), counts, deadline):
                if (d.path, d.name) not in seen:
                    seen.add((d.path, d.name))
                    out.append(d)
        return out

    def _usable(self, file: str) -> bool:
        return bool(file) and file.endswith((".py", ".pyi")) and self._root_of(Path(file)) is not None

    # -- resolution ------------------------------------------------------------------------------

    def _resolve(self, imp: Imported, importer: Path, counts: dict[str, int], deadline: float) -> list[Definition]:
        """The definitions one import brings: the name itself, or the used attributes of a module."""
        for path in self._candidates(imp, importer):
            entry = self._get(path, deadline)
            if entry is None:
                continue
            if not imp.name:  # ``import pkg.mod as m``: what the buffer uses of m
                return self._attributes(entry, imp.local, counts, deadline)
            found = self._lookup(entry, imp.name, counts.get(imp.local, 0), deadline, MAX_HOPS)
            if found is not None:
                return [found]
            if path.name == "__init__.py":  # ``from pkg import mod``: a submodule
                sub = self._module_file(path.parent, [imp.name])
                entry = self._get(sub, deadline) if sub else None
                if entry is not None:
                    return self._attributes(entry, imp.local, counts, deadline)
            return []
        return []

    def _attributes(self, entry: _Entry, local: str, counts: dict[str, int], deadline: float) -> list[Definition]:
        prefix = local + "."
        used = [(k[len(prefix) :], n) for k, n in counts.items() if k.startswith(prefix) and "." not in k[len(prefix) :]]
        found = (self._lookup(entry, name, n, deadline, MAX_HOPS) for name, n in used)
        return [d for d in found if d is not None]

    def _lookup(self, entry: _Entry, name: str, n: int, deadline: float, hops: int) -> Definition | None:
        stub = entry.summary.stubs.get(name)
        if stub is not None:
            return Definition(entry.relative, name, stub, n)
        origin = entry.summary.imports.get(name)
        if origin is None or hops <= 0:
            return None
        for path in self._candidates(origin, entry.path):
            nxt = self._get(path, deadline)
            if nxt is not None:
                return self._lookup(nxt, origin.name, n, deadline, hops - 1)
        return None

    def _candidates(self, imp: Imported, importer: Path) -> list[Path]:
        """Files that may hold the module ``imp`` imports from, inside the workspace only."""
        parts = imp.module.split(".") if imp.module else []
        if imp.level:
            base = importer.parent
            for _ in range(imp.level - 1):
                base = base.parent
            found = self._module_file(base, parts)
            return [found] if found else []
        out = []
        for source_root in self._source_roots(importer):
            found = self._module_file(source_root, parts)
            if found:
                out.append(found)
        return out

    def _source_roots(self, importer: Path) -> list[Path]:
        """Where absolute imports start: above the importer's top package, then each folder and
        its ``src``."""
        top = importer.parent
        while (top / "__init__.py").is_file() and self._root_of(top.parent) is not None:
            top = top.parent
        roots = [top, *self._roots, *(r / "src" for r in self._roots)]
        return list(dict.fromkeys(roots))

    def _module_file(self, base: Path, parts: list[str]) -> Path | None:
        if not parts:
            init = base / "__init__.py"
            return init if init.is_file() and self._root_of(init) else None
        for path in (base.joinpath(*parts).with_suffix(".py"), base.joinpath(*parts, "__init__.py")):
            if path.is_file() and self._root_of(path) is not None:
                return path
        return None

    def _root_of(self, path: Path) -> Path | None:
        try:
            real = path.resolve()
        except OSError:
            return None
        for root in self._roots:
            if real == root or root in real.parents:
                return root
        return None

    def _relative(self, path: Path) -> str:
        root = self._root_of(path)
        real = path.resolve()
        return real.relative_to(root).as_posix() if root else path.name

    # -- summaries -------------------------------------------------------------------------------

    def _get(self, path: Path, deadline: float) -> _Entry | None:
        """The file's summary, waiting until ``deadline`` at most for one being read."""
        with self._lock:
            entry = self._entries.get(path)
            if entry is not None:
                self._entries.move_to_end(path)
        if entry is not None:  # kept: refresh it in the background if due, never wait for that
            if time.monotonic() - entry.checked >= RECHECK_S:
                self._load(path)
            return entry
        future = self._load(path)
        if future is None:
            return None
        try:
            return future.result(timeout=max(0.0, deadline - time.monotonic()))
        except concurrent.futures.TimeoutError:
            return None  # left out of this request
        except concurrent.futures.CancelledError:
            return None

    def _load(self, path: Path) -> concurrent.futures.Future[_Entry | None] | None:
        with self._lock:
            if time.monotonic() - self._skipped.get(path, -SKIP_RETRY_S) < SKIP_RETRY_S:
                return None
            pending = self._pending.get(path)
            if pending is None:
                try:
                    pending = self._pool.submit(self._read, path)
                except RuntimeError:  # closed
                    return None
                self._pending[path] = pending
            return pending

    def _read(self, path: Path) -> _Entry | None:
        """On the index thread: stat, and read and summarize only when the file changed."""
        try:
            st = path.stat()
            stamp = (st.st_mtime_ns, st.st_size)
            with self._lock:
                old = self._entries.get(path)
            if old is not None and old.stamp == stamp:
                entry = _Entry(path, old.relative, stamp, old.summary, time.monotonic())
            else:
                summary = summarize(self._text(path, st.st_size))
                entry = _Entry(path, self._relative(path), stamp, summary, time.monotonic())
        except _Skip as why:
            self._skip(path, str(why))
            return None
        except OSError as err:
            self._skip(path, f"unreadable ({err.strerror or err})")
            return None
        finally:
            with self._lock:
                self._pending.pop(path, None)
        with self._lock:
            self._entries[path] = entry
            self._entries.move_to_end(path)
            while len(self._entries) > MAX_MODULES:
                self._entries.popitem(last=False)
        return entry

    @staticmethod
    def _text(path: Path, size: int) -> str:
        if size > MAX_FILE_BYTES:
            raise _Skip(f"over {MAX_FILE_BYTES} bytes")
        data = path.read_bytes()
        if b"\0" in data:
            raise _Skip("binary")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise _Skip("not UTF-8") from None

    def _skip(self, path: Path, why: str) -> None:
        with self._lock:
            first = path not in self._skipped
            self._skipped[path] = time.monotonic()
            self._entries.pop(path, None)
        if first:
            log.debug("workspace index: skipping %s: %s", os.fspath(path), why)


class _Skip(Exception):
    """A file the index does not read (too big, binary, not text)."""
