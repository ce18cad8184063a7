"""The counters behind ``fimLsp/stats``; their JSON names are the protocol's (camelCase).

Written on the event loop only: a run's counts come back from the worker through
`loop.call_soon_threadsafe` (see run.py), so a request the editor cancelled is counted too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from lsp_server.engine import GenerationResult


@dataclass
class RequestStats:
    request: int = 0  # the request's number (Stats.requests when it arrived)
    source: str = ""  # "model", "cache", or the kind of background run it adopted
    nPrompt: int = 0
    nReused: int = 0
    nGenerated: int = 0
    tPromptS: float = 0.0
    tGenS: float = 0.0
    stopReason: str = ""
    totalS: float = 0.0
    cold: str = ""  # hurried while cold: "window" or "first" (completion/cold.py)


@dataclass
class Stats:
    requests: int = 0
    completed: int = 0  # requests answered by a model run (their own, or a background one they awaited)
    cancelled: int = 0
    cacheHits: int = 0
    prefetched: int = 0  # background runs finished: the accepted state
    speculated: int = 0  # ... and the state the user just typed
    prewarmed: int = 0  # prompt heads evaluated in advance (a document opened or first changed)
    coldWindows: int = 0  # requests' runs on the smaller cold-start window (completion/cold.py)
    grown: int = 0  # ... and full windows evaluated after them, to their end
    nPrompt: int = 0
    nReused: int = 0
    nGenerated: int = 0
    tPromptS: float = 0.0
    tGenS: float = 0.0
    coldStartS: float | None = None
    last: RequestStats = field(default_factory=RequestStats)

    def request(self) -> int:
        """Count a request; its number."""
        self.requests += 1
        return self.requests

    def record(self, request: int, result: GenerationResult, total_s: float) -> None:
        """A request's own run, finished or cancelled."""
        self.completed += result.stop_reason != "cancelled"
        self.cancelled += result.stop_reason == "cancelled"
        self.record_background(result)
        self.coldWindows += result.cold == "window"
        self.last = RequestStats(request, "model", result.n_prompt, result.n_reused, result.n_generated,
                                 result.t_prompt_s, result.t_gen_s, result.stop_reason, total_s, result.cold)

    def record_background(self, result: GenerationResult) -> None:
        """Token counts of any run, finished or not; alone for background work, so the reuse
        share covers all work."""
        self.nPrompt += result.n_prompt
        self.nReused += result.n_reused
        self.nGenerated += result.n_generated
        self.tPromptS += result.t_prompt_s
        self.tGenS += result.t_gen_s

    def record_finished(self, kind: str, cold: str = "") -> None:
        """A background run of ``kind`` ("prefetch", "speculate", "prewarm", "grow") that ran to
        its end; ``cold``: a speculation's cold-start window (GenerationResult.cold)."""
        self.coldWindows += cold == "window"
        if kind == "prefetch":
            self.prefetched += 1
        elif kind == "prewarm":
            self.prewarmed += 1
        elif kind == "grow":
            self.grown += 1
        else:
            self.speculated += 1

    def record_adopted(self, request: int, result: GenerationResult, kind: str) -> None:
        """A request answered by the background run it waited for (tokens already counted)."""
        self.completed += 1
        self.last = RequestStats(request, kind, result.n_prompt, result.n_reused, result.n_generated,
                                 result.t_prompt_s, result.t_gen_s, result.stop_reason,
                                 result.t_prompt_s + result.t_gen_s, result.cold)

    def record_cache_hit(self, request: int) -> None:
        self.cacheHits += 1
        self.last = RequestStats(request, "cache", stopReason="cache")

    def record_answer(self, since_start_s: float) -> None:
        """A model answered a request; the first one sets the cold start."""
        if self.coldStartS is None:
            self.coldStartS = since_start_s

    def as_json(self) -> dict[str, object]:
        return asdict(self)
