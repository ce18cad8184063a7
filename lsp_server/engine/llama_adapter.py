"""The one place that touches llama-cpp-python's private parts.

The in-process engine needs more than `Llama`'s documented API: the KV cache's token sequence
(to reuse a prompt's prefix), the logits of any batch position (lookup decoding, constrained
choice), and vocabulary facts (control tokens, FIM markers, end of generation) that only the raw
bindings give. Those parts move between releases, so the package is pinned (pyproject.toml) and
every use sits here, behind operations named for what they do. `LIBRARY_NAMES` and
`LLAMA_NAMES` list what this module relies on: a model is not opened on a version that lacks any
of it, mypy checks the uses against the package's own type hints, and tests/test_llama_adapter.py
calls each operation on the real model.

The module imports llama-cpp-python only when a model is opened: its shared library may fail to
load, and that must be an `EngineError`, not an import error of the engine.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import logging
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from lsp_server.engine.base import EngineError

if TYPE_CHECKING:
    from llama_cpp import Llama

log = logging.getLogger(__name__)
_native_log = logging.getLogger("lsp_server.llama_cpp.native")

PINNED_VERSION = "0.3.36"  # the llama-cpp-python==... of pyproject.toml (tested to agree)

# Everything this module uses of llama-cpp-python, as attribute paths from the `llama_cpp`
# module and from a `Llama`. A test checks that the code here uses nothing else.
LIBRARY_NAMES = (
    "Llama",
    "LLAMA_TOKEN_ATTR_CONTROL",
    "LLAMA_TOKEN_ATTR_USER_DEFINED",
    "llama_get_logits_ith",
    "llama_log_callback",
    "llama_log_set",
    "llama_memory_seq_pos_max",
    "llama_print_system_info",
    "llama_supports_gpu_offload",
    "llama_state_seq_get_data",
    "llama_state_seq_get_size",
    "llama_state_seq_set_data",
    "llama_vocab_bos",
    "llama_vocab_fim_mid",
    "llama_vocab_fim_pre",
    "llama_vocab_fim_suf",
    "llama_vocab_get_add_bos",
    "llama_vocab_get_attr",
    "llama_vocab_get_text",
    "llama_vocab_is_eog",
)
LLAMA_NAMES = (
    "_batch.set_batch",
    "_ctx.ctx",
    "_ctx.decode",
    "_ctx.kv_cache_clear",
    "_ctx.kv_cache_seq_rm",
    "_ctx.memory",
    "_model.vocab",
    "close",
    "detokenize",
    "eval",
    "input_ids",
    "metadata",
    "n_ctx",
    "n_tokens",
    "n_vocab",
    "tokenize",
)


def missing_internals(root: object, paths: tuple[str, ...]) -> list[str]:
    """The attribute paths in ``paths`` that ``root`` lacks."""
    missing = []
    for path in paths:
        obj = root
        for name in path.split("."):
            if not hasattr(obj, name):
                missing.append(path)
                break
            obj = getattr(obj, name)
    return missing


def _require(root: object, paths: tuple[str, ...], owner: str, version: str) -> None:
    missing = missing_internals(root, paths)
    if missing:
        names = ", ".join(f"{owner}.{p}" for p in missing)
        raise EngineError(
            f"llama-cpp-python {version} has no {names}, which lsp_server/engine/llama_adapter.py "
            f"uses; fim-lsp is written for llama-cpp-python=={PINNED_VERSION}",
            f"Install llama-cpp-python=={PINNED_VERSION} (scripts/install.sh), or port the adapter.",
        )


def _version(lib: ModuleType) -> str:
    return str(getattr(lib, "__version__", "?"))


def _library() -> ModuleType:
    import llama_cpp

    return llama_cpp


def load_library() -> None:
    """Import llama-cpp-python, check it has what the adapter uses, route its logs to ours."""
    try:
        lib = _library()
    except Exception as err:  # missing package, or its shared library failed to load
        raise EngineError(
            f"llama-cpp-python is not usable: {err}",
            "Reinstall with scripts/install.sh (scripts/setup.sh for a checkout's .venv).",
        ) from err
    _require(lib, LIBRARY_NAMES, "llama_cpp", _version(lib))
    _route_native_logs(lib)


def gpu_offload() -> bool:
    """Whether this llama.cpp build can offload layers to a GPU."""
    load_library()
    lib = _library()
    return bool(lib.llama_supports_gpu_offload())


_log_callback: Any = None
# llama.cpp's vocabulary loader (lines "load: ...") warns about quirks of a model's token list
# that it corrects itself ("control-looking token ... probably a bug in the model", an EOS
# token outside the end-of-generation set): nothing a user can act on, and editors show a
# server's warnings as errors (Neovim's lsp.log), so debug level.
_VOCAB_NOTE = b"load: "


def _route_native_logs(lib: ModuleType) -> None:
    """Send llama.cpp's own log lines to our logger (stderr / --log-file), never to stdout."""
    global _log_callback
    if _log_callback is not None:
        return

    @lib.llama_log_callback  # type: ignore[misc]
    def callback(level: int, text: bytes, _data: ctypes.c_void_p) -> None:
        # ggml levels: 1 debug, 2 info, 3 warn, 4 error, 5 continuation.
        py_level = {3: logging.WARNING, 4: logging.ERROR}.get(level, logging.DEBUG)
        if py_level == logging.WARNING and text.startswith(_VOCAB_NOTE):
            py_level = logging.DEBUG
        if _native_log.isEnabledFor(py_level):
            msg = text.decode("utf-8", "replace").rstrip()
            if msg:
                _native_log.log(py_level, "%s", msg)

    _log_callback = callback  # keep a reference: ctypes must not free it
    lib.llama_log_set(callback, ctypes.c_void_p(0))


class LlamaAdapter:
    """A loaded model and its context, with the KV cache's token sequence.

    Not thread-safe, like the llama.cpp context under it: one thread calls it (see the engine).
    """

    @classmethod
    def open(cls, path: Path, *, n_ctx: int, n_batch: int, n_threads: int, n_gpu_layers: int) -> LlamaAdapter:
        """Load ``path``; one batch size and one thread count serve both prompt and generation.

        Raises what `Llama` raises for a bad file or too little memory (ValueError, RuntimeError,
        OSError), and `EngineError` when the library lacks what the adapter uses.
        """
        load_library()
        lib = _library()
        chatter = io.StringIO()
        try:
            # verbose=True: with False, llama-cpp-python redirects fd 1 and 2 while loading, which
            # can swallow protocol bytes on stdio. Native logs are routed to our logger instead,
            # and the Python-level chatter it prints (metadata, chat template) to the debug log.
            with contextlib.redirect_stderr(chatter):
                llm = lib.Llama(
                    model_path=str(path),
                    n_ctx=n_ctx,
                    n_batch=n_batch,
                    n_ubatch=n_batch,
                    n_threads=n_threads,
                    n_threads_batch=n_threads,
                    n_gpu_layers=n_gpu_layers,
                    logits_all=False,
                    verbose=True,
                )
        finally:
            log.debug("llama-cpp-python: %s", chatter.getvalue())
        logging.getLogger("llama-cpp-python").setLevel(logging.WARNING)
        return cls(llm, path)

    def __init__(self, llm: Llama, path: Path) -> None:
        """Wrap a `Llama` (one loaded with ``vocab_only=True`` serves the vocabulary operations)."""
        lib = _library()
        _require(lib, LIBRARY_NAMES, "llama_cpp", _version(lib))
        _require(llm, LLAMA_NAMES, "Llama", _version(lib))
        self._lib = lib
        self._llm = llm
        self._vocab = llm._model.vocab
        self._n_vocab = llm.n_vocab()
        self.path = path

    # -- model facts -----------------------------------------------------------------------

    def meta(self, key: str) -> str:
        """A GGUF metadata value ("general.name", "general.architecture"), "" when absent."""
        return str(self._llm.metadata.get(key, ""))

    def n_ctx(self) -> int:
        return self._llm.n_ctx()

    def system_info(self) -> str:
        """llama.cpp's build features (CPU instructions, backends)."""
        return str(self._lib.llama_print_system_info().decode("utf-8", "replace").strip())

    # -- vocabulary ------------------------------------------------------------------------

    def tokenize(self, text: str) -> list[int]:
        """Plain text to tokens: no BOS, and marker-like text stays text (special tokens off)."""
        return self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)

    def prompt_start(self) -> list[int]:
        """The tokens a prompt starts with: BOS where the vocabulary asks for it, else none."""
        if self._lib.llama_vocab_get_add_bos(self._vocab):
            return [int(self._lib.llama_vocab_bos(self._vocab))]
        return []

    def token_bytes(self, token: int) -> bytes:
        """A token's text as bytes (special tokens spell nothing); may be part of a character."""
        return self._llm.detokenize([token], special=False)

    def special_pieces(self) -> Iterator[tuple[int, str]]:
        """Each control or user-defined token (FIM markers live there) and its text, by id."""
        lib, vocab = self._lib, self._vocab
        wanted = lib.LLAMA_TOKEN_ATTR_CONTROL | lib.LLAMA_TOKEN_ATTR_USER_DEFINED
        for tok in range(self._n_vocab):
            if lib.llama_vocab_get_attr(vocab, tok) & wanted:
                yield tok, self._text(tok)

    def gguf_fim_texts(self) -> tuple[str, str, str] | None:
        """The FIM prefix, suffix and middle markers the GGUF names, None unless it names all three."""
        lib, vocab = self._lib, self._vocab
        ids = (lib.llama_vocab_fim_pre(vocab), lib.llama_vocab_fim_suf(vocab), lib.llama_vocab_fim_mid(vocab))
        if any(i < 0 for i in ids):
            return None
        return (self._text(ids[0]), self._text(ids[1]), self._text(ids[2]))

    def _text(self, token: int) -> str:
        return str(self._lib.llama_vocab_get_text(self._vocab, token).decode("utf-8", "replace"))

    def is_eog(self, token: int) -> bool:
        """Whether the vocabulary marks ``token`` as an end of generation (EOS, EOT, ...)."""
        return bool(self._lib.llama_vocab_is_eog(self._vocab, token))

    # -- the KV cache ----------------------------------------------------------------------

    def cached_tokens(self) -> npt.NDArray[np.intc]:
        """The tokens in the KV cache, in order (a view: valid until the cache changes)."""
        return self._llm.input_ids[: self._llm.n_tokens]

    @property
    def n_cached(self) -> int:
        return int(self._llm.n_tokens)

    def truncate(self, n: int) -> None:
        """Keep the first ``n`` cached tokens; drop the rest from the KV cache."""
        self._llm.n_tokens = n
        self._llm._ctx.kv_cache_seq_rm(-1, n, -1)

    def clear(self) -> None:
        """Empty the KV cache (after a failed decode its state is unknown)."""
        self._llm.n_tokens = 0
        self._llm._ctx.kv_cache_clear()

    def state_bytes(self) -> bytes:
        """The KV cache's contents (its one sequence) as bytes, for `restore` in another process."""
        lib, ctx = self._lib, self._llm._ctx.ctx
        size = int(lib.llama_state_seq_get_size(ctx, 0))
        buf = (ctypes.c_uint8 * size)()
        n = int(lib.llama_state_seq_get_data(ctx, buf, size, 0))
        return ctypes.string_at(buf, min(n, size))

    def restore(self, blob: bytes, tokens: list[int]) -> bool:
        """Put a `state_bytes` result back as the cache of ``tokens``; False (and an empty cache)
        when llama.cpp refuses it or it does not hold exactly that many positions."""
        lib, llm = self._lib, self._llm
        self.clear()
        if not blob or not tokens or len(tokens) > llm.n_ctx():
            return False
        buf = (ctypes.c_uint8 * len(blob)).from_buffer_copy(blob)
        if not lib.llama_state_seq_set_data(llm._ctx.ctx, buf, len(blob), 0) or (
            lib.llama_memory_seq_pos_max(llm._ctx.memory, 0) != len(tokens) - 1
        ):
            self.clear()
            return False
        llm.input_ids[: len(tokens)] = tokens
        llm.n_tokens = len(tokens)
        return True

    def eval(self, tokens: list[int]) -> None:
        """Append ``tokens`` to the cache; `logits` then holds the last one's. RuntimeError on failure."""
        self._llm.eval(tokens)

    def eval_each(self, tokens: list[int]) -> None:
        """Append ``tokens`` in one batch, keeping the logits after each (`logits(i)`).

        `Llama.eval` keeps only the last position's (this context has no logits_all), and
        checking a draft needs them all. RuntimeError on failure.
        """
        llm = self._llm
        n_past = llm.n_tokens
        llm._batch.set_batch(batch=tokens, n_past=n_past, logits_all=True)
        llm._ctx.decode(llm._batch)
        llm.input_ids[n_past : n_past + len(tokens)] = tokens
        llm.n_tokens = n_past + len(tokens)

    def logits(self, i: int = -1) -> npt.NDArray[np.float32]:
        """The next-token logits after the last batch's ``i``-th token (-1: its last).

        A view into llama.cpp's buffer, valid until the next evaluation.
        """
        ptr = self._lib.llama_get_logits_ith(self._llm._ctx.ctx, i)
        return np.ctypeslib.as_array(ptr, shape=(self._n_vocab,))

    def close(self) -> None:
        self._llm.close()
