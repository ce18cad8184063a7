"""The Engine protocol shared by the in-process llama.cpp engine and the remote backends.

Engines are synchronous and blocking: the server runs them on its own worker thread(s), so the
event loop never waits on them. Cancellation is cooperative through `CancelToken`, checked at
least once per generated token (and per prompt chunk).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from lsp_server.context.templates import Segment
from lsp_server.context.types import Prompt


class EngineError(Exception):
    """A failure the user must hear about once, with what to do (``hint``)."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint

    def user_message(self) -> str:
        return f"{self} {self.hint}".strip()


class CancelToken:
    """Set by the scheduler when a newer request or ``$/cancelRequest`` makes a job stale."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


# Progress callback: (message, percentage or None).
ProgressCallback = Callable[[str, "int | None"], None]
# (indentation, word) pairs: the first line may not start with the word at that indentation. A
# word is a run of word characters or one other character (``(``, ``{``).
FirstWords = tuple[tuple[int, str], ...]
_WORD = re.compile(r"\w+|\S")


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do, so the server can adapt the request."""

    server_side_fim: bool = False  # builds the FIM prompt itself (llama-server /infill)
    local: bool = True  # runs in this process


@dataclass(frozen=True)
class EngineInfo:
    backend: str
    model: str
    fim_format: str
    capabilities: Capabilities
    details: dict[str, str] = field(default_factory=dict)
    # The most tokens one request may use, where a shared server caps it (llama-server splits -c
    # across --parallel slots); 0: no such cap known. The host checks it against the prompt settings.
    request_tokens: int = 0
    # The vocabulary's control-token texts, where the engine knows them (in process): features
    # choose a prompt layout from them (next-edit's chat or edit format).
    markers: frozenset[str] = frozenset()


@dataclass(frozen=True)
class GenerationJob:
    prompt: Prompt
    max_tokens: int = 128
    # Seconds of generation allowed once the prompt is evaluated (stop_reason "deadline"),
    # counted from there so that a cold prompt still gets a useful first line.
    time_budget_s: float | None = None
    # Past the time budget the suggestion ends at a line end where this says it may (not inside
    # a bracket it opened, nor, but for a cold request's, right after a line that opens a block:
    # see `Prepared.may_end`), or anyway once ``grace_s`` more has passed. None: at the first
    # line end.
    may_end: Callable[[str], bool] | None = None
    grace_s: float = 0.0
    # The budget is when the suggestion must be done (the user is typing: a pause is short), not
    # when its last line may start: at a line end where it may end, stop if one more line, as
    # long as the last took, would end past the budget (the first line is always whole). The
    # in-process engine keeps to it; remote engines stop at the budget as before.
    end_in_budget: bool = False
    # Called with the text generated so far; True stops generation (post-processing cut rules).
    should_stop: Callable[[str], bool] | None = None
    # Key for cache/slot affinity (the document URI); remote engines may map it to a slot.
    session: str = ""
    # Columns the first line's indentation may have (the block structure allows only these), or
    # None for any. Engines that choose tokens themselves pick the best token that keeps to them;
    # others ignore it and the cut stage judges the result.
    indents: tuple[int, ...] | None = None
    # True where the code needs a statement (a block without a body): no end before any text.
    needs_text: bool = False
    # Words the first line must not start with at an indentation (a `return` that would make
    # the code below it unreachable; the first word of an answer post-processing refused), or
    # None. Used like `indents`.
    avoid: FirstWords | None = None
    # Back up the prompt's last token and have the generation spell it again (token healing:
    # a cursor inside a word). Engines that cannot constrain their tokens ignore it.
    heal: bool = False


class LinePace:
    """Where a suggestion that must be done by ``deadline`` stops (`GenerationJob.end_in_budget`):
    at a line end from which one more line, as long as the last one took, would end past it.
    The line ends are read off the generated text; the first line is timed from ``start``."""

    def __init__(self, start: float, deadline: float) -> None:
        self.deadline = deadline
        self._lines = 0
        self._line_end = start

    def next_too_late(self, out: str, now: float) -> bool:
        """``out`` was generated by ``now``: True at a new line end where the next line would
        come too late. Leading line breaks (the cursor at a line end) are no line."""
        done = out.lstrip("\n").count("\n")
        if done <= self._lines:
            return False
        late = now + (now - self._line_end) >= self.deadline
        self._lines, self._line_end = done, now
        return late


@dataclass(frozen=True)
class RewriteJob:
    """Write a region of code anew (next-edit): the prompt as segments in the model's own layout
    (control tokens by text), and ``draft``, the original region, which the answer mostly copies.

    An engine that can verify a draft checks the original's tokens in batches while the answer
    copies it, and reports where the answer left it (`GenerationResult.departures`).
    """

    segments: tuple[Segment, ...]
    draft: str
    max_tokens: int = 512
    deadline: float | None = None  # time.monotonic() value after which generation stops
    # Called with the text so far; True stops generation (the rewrite rejoined the original).
    should_stop: Callable[[str], bool] | None = None
    session: str = ""


@dataclass(frozen=True)
class ScoreJob:
    """How likely is each of ``alternatives`` right after the prompt (next-edit: which variant
    of a line fits the edited code)? The prompt as segments, as for `RewriteJob`."""

    segments: tuple[Segment, ...]
    alternatives: tuple[str, ...]
    session: str = ""


@dataclass
class ScoreResult:
    logprobs: tuple[float, ...]  # per alternative: the sum of its tokens' log-probabilities
    n_prompt: int = 0
    n_reused: int = 0
    seconds: float = 0.0


def first_word(code: str) -> str:
    """The word ``code`` starts with, as `FirstWords` counts words ("" for blank text)."""
    match = _WORD.match(code)
    return match.group() if match else ""


def first_line_fits(text: str, indents: tuple[int, ...] | None, avoid: FirstWords | None = None) -> bool | None:
    """Does generated ``text`` start its first line at an allowed indentation, and not with a word
    ``avoid`` rules out at its indentation? True once it has (code after allowed whitespace), None
    while it still may, False when it cannot (wrong indentation, a blank line first, an avoided
    word).

    Whitespace alone is allowed one column short of an allowed indentation, as BPE vocabularies
    write it (``"           "`` then ``" if"`` for 12 columns), or at it exactly; a run that
    could only be finished by unusual tokens is refused, so the model does not end up there.
    """
    if indents is None and avoid is None:
        return True if text.strip() else None
    rest = text.lstrip(" \t")
    width = len(text) - len(rest)
    if indents is not None:
        if not rest:
            return None if not text or any(width in (i - 1, i) for i in indents) else False
        if rest[0] in "\r\n" or width not in indents:
            return False
    elif not text.strip():
        return None
    elif rest[0] in "\r\n":
        return True  # code after a blank first line: the cut stage judges it
    words = [w for at, w in avoid or () if at == width]
    if not words:
        return True
    word = first_word(rest)
    if word in words:
        return False
    if word == rest and any(w.startswith(word) for w in words):
        return None  # "re" may still become "return" (or "result")
    return True


@dataclass
class GenerationResult:
    text: str
    stop_reason: str  # "eos" | "max_tokens" | "deadline" | "stop" | "cancelled" | "error"
    n_prompt: int = 0  # prompt tokens in the request (cancelled while evaluated: those that reached the cache)
    n_reused: int = 0  # of those, tokens reused from the KV cache
    n_generated: int = 0
    t_prompt_s: float = 0.0
    t_gen_s: float = 0.0
    # Rewrites: (offset in ``text``, probability) of each token chosen where the draft had another,
    # the model's confidence in leaving the original there.
    departures: tuple[tuple[int, float], ...] = ()
    drafted: int = 0  # draft tokens checked, and of those, kept (rewrites)
    accepted: int = 0
    # A completion run hurried while cold (completion/cold.py): "window" (a smaller prompt and a
    # cut generation), "first" (the document's first run: the generation cut only), "" (neither).
    cold: str = ""


class Engine(Protocol):
    def load(self, progress: ProgressCallback) -> EngineInfo:
        """Load the model or connect; may download. Raises EngineError with a hint."""
        ...

    def count_tokens(self, text: str) -> int:
        """Token count used to cut prompt windows; remote engines may estimate."""
        ...

    def generate(self, job: GenerationJob, cancel: CancelToken) -> GenerationResult:
        """Run one completion; returns early with stop_reason "cancelled" when cancelled."""
        ...

    def rewrite(self, job: RewriteJob, cancel: CancelToken) -> GenerationResult:
        """Write a region anew (`RewriteJob`); raises EngineError where the engine cannot."""
        ...

    def score(self, job: ScoreJob, cancel: CancelToken) -> ScoreResult:
        """Score alternatives after a prompt (`ScoreJob`); raises EngineError where the engine
        cannot."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class PromptMeter(Protocol):
    """An engine that tells, before a run, how much of a prompt it would evaluate, and how fast
    it evaluates (the in-process one): for the cold-start window (completion/cold.py)."""

    def unevaluated(self, prompt: Prompt, session: str) -> tuple[int, int]:
        """The prompt's tokens, and how many of them are neither in the KV cache nor in the
        session's state on disk."""
        ...

    def prompt_rate(self) -> float | None:
        """Prompt tokens evaluated per second, as measured lately; None before any."""
        ...


@runtime_checkable
class WarmEngine(Protocol):
    """An engine that evaluates a prompt's head before the request comes (the in-process one)."""

    def warm(self, prompt: Prompt, session: str, cancel: CancelToken, through_suffix: bool) -> GenerationResult: ...
