"""One next-edit prediction, start to end, on the engine's thread: the prompt, the rewrite with
the original region as its draft, and the edits that survive the drop rules.

Synchronous and free of the server, so the benchmark runs exactly what the server runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from lsp_server.documents import Snapshot
from lsp_server.engine.base import CancelToken, Engine, EngineInfo, GenerationResult, RewriteJob
from lsp_server.nextedit.edits import MIN_CONFIDENCE, TextEdit, judge, region_edits, similar
from lsp_server.nextedit.history import Hunk
from lsp_server.nextedit.prompt import EditPrompt, RegionBudget, build_prompt, choose_format
from lsp_server.nextedit.rewrite import RejoinStop, complete, watch_words

REWRITE_BUDGET_S = 6.0  # a rewrite still running after this shows what it has (aligned) or nothing
EXTRA_TOKENS = 48  # tokens a rewrite may write beyond the original region's


@dataclass(frozen=True)
class Options:
    budget: RegionBudget = RegionBudget()
    history: bool = True  # False: the same prompt without the edits (the benchmark's baseline)
    early_stop: bool = True  # stop once the rewrite rejoined the original for good (`RejoinStop`)
    min_confidence: float = MIN_CONFIDENCE
    format: str = "auto"
    budget_s: float | None = REWRITE_BUDGET_S  # None: no time limit (quality benchmarks)


@dataclass
class Prediction:
    edits: list[TextEdit]
    region_start: int = 0  # the region in the document, and the model's whole new region
    region_end: int = 0
    new_region: str = ""
    dropped: dict[str, int] = field(default_factory=dict)
    result: GenerationResult | None = None
    seconds: float = 0.0


def predict(engine: Engine, info: EngineInfo, doc: Snapshot, cursor: int, hunks: Sequence[Hunk],
            paths: Callable[[str], str], cancel: CancelToken, options: Options = Options()) -> Prediction:
    """The edits the user's recent ``hunks`` (oldest first) call for around ``cursor``."""
    t0 = time.monotonic()
    own = [h for h in hunks if h.uri == doc.uri]
    if not own:
        return Prediction([])  # nothing was edited here: nothing follows (cheap and common)
    fmt = choose_format(options.format, info.details.get("name", ""), info.markers.__contains__)
    prompt = build_prompt(fmt, doc, cursor, hunks if options.history else (), paths, engine.count_tokens,
                          options.budget)
    region = prompt.region
    latest = own[-1]
    cursor_line = region.text.count("\n", 0, region.cursor)
    rejoin = RejoinStop(region.text, watch_words(latest.before, latest.after), cursor_line)
    job = RewriteJob(
        prompt.segments,
        region.text[len(prompt.prefill) :],
        max_tokens=engine.count_tokens(region.text) + EXTRA_TOKENS,
        deadline=None if options.budget_s is None else t0 + options.budget_s,
        should_stop=_stop_rule(prompt, rejoin if options.early_stop else None),
        session=doc.uri,
    )
    result = engine.rewrite(job, cancel)
    new = _new_region(prompt, result)
    if not similar(region.text, new):
        return Prediction([], region.start, region.end, new, {"rewrite": 1}, result, time.monotonic() - t0)
    edits = region_edits(region, new)
    lines = {e.start: doc.position_at(e.start, "utf-32")[0] for e in edits}
    judged = judge(doc.text, doc.language_id, edits, latest, result.departures, lines, options.min_confidence)
    return Prediction(judged.kept, region.start, region.end, new, judged.dropped, result, time.monotonic() - t0)


def _marker_at(text: str, marker: str) -> int:
    """Where the end marker starts, at a line start; -1 while there is none."""
    if not marker:
        return -1
    if text.startswith(marker):
        return 0
    at = text.find("\n" + marker)
    return at + 1 if at >= 0 else -1


def _stop_rule(prompt: EditPrompt, rejoin: RejoinStop | None) -> Callable[[str], bool]:
    def stop(text: str) -> bool:
        text = prompt.prefill + text
        return _marker_at(text, prompt.end_marker) >= 0 or (rejoin is not None and rejoin(text))

    return stop


def _new_region(prompt: EditPrompt, result: GenerationResult) -> str:
    """The model's region: cut at its end marker, or completed from the original where it
    stopped early (`rewrite.complete`); the original itself when it has nothing usable."""
    original = prompt.region.text
    text = prompt.prefill + result.text
    at = _marker_at(text, prompt.end_marker)
    if at >= 0:
        text, finished = text[:at], True
    else:
        finished = result.stop_reason == "eos" and not prompt.end_marker
    if result.stop_reason in ("cancelled", "error"):
        return original
    new = complete(original, text, finished)
    if not original.endswith("\n"):
        new = new.rstrip("\n")
    return new
