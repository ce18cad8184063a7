"""One next-edit prediction, start to end, on the engine's thread: the prompt, then the model's
choice among the follow-ups the latest edit proposes (``carry``, the default) or its free rewrite
of the region with the original as its draft (``rewrite``), and the edits that survive the drop
rules.

Synchronous and free of the server, so the benchmark runs exactly what the server runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from lsp_server.documents import Snapshot
from lsp_server.engine.base import (
    CancelToken,
    Engine,
    EngineInfo,
    GenerationResult,
    RewriteJob,
    ScoreJob,
)
from lsp_server.nextedit.edits import MIN_CONFIDENCE, TextEdit, judge, region_edits, similar
from lsp_server.nextedit.history import Hunk
from lsp_server.nextedit.prompt import (
    EditPrompt,
    RegionBudget,
    Segments,
    build_prompt,
    choose_format,
    choose_region,
    code_above,
    followed_by,
    line_region,
)
from lsp_server.nextedit.propagate import CandidateLine, line_choices, propose
from lsp_server.nextedit.rewrite import RejoinStop, complete, watch_words

REWRITE_BUDGET_S = 6.0  # a rewrite still running after this shows what it has (aligned) or nothing
EXTRA_TOKENS = 48  # tokens a rewrite may write beyond the original region's
# A line variant with the latest edit carried must be this much likelier (in nats, log-probability
# per change) than the line as it stands: the model confirms a follow-up, it is not given one.
CARRY_MARGIN = 0.0
MODES = ("carry", "rewrite")
CODE_ABOVE_SHARE = 4  # the document judge reads this many times the chat prompt's lines above
REACH_LINES = 30  # lines above and below the cursor where carried follow-ups are looked for


@dataclass(frozen=True)
class Options:
    budget: RegionBudget = RegionBudget()
    history: bool = True  # False: the same prompt without the edits (the benchmark's baseline)
    early_stop: bool = True  # stop once the rewrite rejoined the original for good (`RejoinStop`)
    min_confidence: float = MIN_CONFIDENCE
    format: str = "auto"
    budget_s: float | None = REWRITE_BUDGET_S  # None: no time limit (quality benchmarks)
    mode: str = "carry"  # `MODES`: the model chooses among carried follow-ups, or rewrites freely
    margin: float = CARRY_MARGIN
    judge_all: bool = False  # carry mode without the model: every proposed follow-up (a baseline)
    # carry mode: the model reads the edited file as code ("document") or the chat prompt with the
    # diffs ("chat"; it copies the region it was shown, so it keeps nearly every line as it is)
    judge: str = "document"


@dataclass
class Prediction:
    edits: list[TextEdit]
    region_start: int = 0  # the region in the document, and the model's whole new region
    region_end: int = 0
    new_region: str = ""
    dropped: dict[str, int] = field(default_factory=dict)
    result: GenerationResult | None = None
    seconds: float = 0.0
    # carry mode: per proposed line, its document line, the variants' texts and log-probabilities
    choices: list[tuple[int, tuple[str, ...], tuple[float, ...]]] = field(default_factory=list)


def predict(engine: Engine, info: EngineInfo, doc: Snapshot, cursor: int, hunks: Sequence[Hunk],
            paths: Callable[[str], str], cancel: CancelToken, options: Options = Options()) -> Prediction:
    """The edits the user's recent ``hunks`` (oldest first) call for around ``cursor``."""
    t0 = time.monotonic()
    own = [h for h in hunks if h.uri == doc.uri]
    if not own:
        return Prediction([])  # nothing was edited here: nothing follows (cheap and common)
    fmt = choose_format(options.format, info.details.get("name", ""), info.markers.__contains__)
    latest = own[-1]
    if options.mode == "carry":
        return _carry(engine, fmt, doc, cursor, hunks, paths, latest, cancel, options, t0)
    prompt = build_prompt(fmt, doc, cursor, hunks if options.history else (), paths, engine.count_tokens,
                          options.budget)
    region = prompt.region
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


def _carry(engine: Engine, fmt: str, doc: Snapshot, cursor: int, hunks: Sequence[Hunk], paths: Callable[[str], str],
           latest: Hunk, cancel: CancelToken, options: Options, t0: float) -> Prediction:
    """The follow-ups the latest edit proposes (`propagate.propose`) within `REACH_LINES`: the
    region (grown to hold them) rewritten line by line, a line with a choice scored in each of
    its variants after the lines chosen before it, a line with only sure changes taken as it is.
    No proposal: no edit, no model run. Past ``budget_s`` (checked between lines): no edits."""
    at_line = doc.position_at(cursor, "utf-32")[0]
    reach = line_region(doc, max(0, at_line - REACH_LINES), min(doc.line_count, at_line + REACH_LINES + 1), cursor)
    found = propose(latest, doc.text, reach, doc.language_id)
    if not found:
        return Prediction([], reach.start, reach.end, reach.text, {}, None, time.monotonic() - t0)
    standard = choose_region(doc, cursor, options.budget, engine.count_tokens)
    first = min(standard.start_line, reach.start_line + found[0].line)
    last = max(standard.end_line, reach.start_line + found[-1].line + 1)
    region = line_region(doc, first, last, cursor)
    lines = [replace(c, line=c.line + reach.start_line - first, start=c.start + reach.start - region.start)
             for c in found]
    if options.judge == "chat":
        prompt = build_prompt(fmt, doc, cursor, hunks if options.history else (), paths, engine.count_tokens,
                              options.budget, region)
        head = prompt.segments[:-1] if prompt.prefill else prompt.segments
    else:
        head = code_above(doc, region, options.budget.above_tokens * CODE_ABOVE_SHARE, engine.count_tokens)
    new, at, reused, n_prompt = "", 0, 0, 0
    choices = []
    for line in lines:
        if options.budget_s is not None and time.monotonic() - t0 > options.budget_s:
            return Prediction([], region.start, region.end, region.text, {"budget": 1}, None, time.monotonic() - t0)
        new += region.text[at : line.start]
        at = line.start + len(line.text)
        choice, result = _choose(engine, head, new, line, doc.uri, cancel, options)
        if result is None:
            return Prediction([], region.start, region.end, region.text, {"cancelled": 1}, None,
                              time.monotonic() - t0)
        reused, n_prompt = reused + result[0], n_prompt + result[1]
        choices.append((region.start_line + line.line, *result[2:]))
        new += choice
    new += region.text[at:]
    edits = region_edits(region, new)
    positions = {e.start: doc.position_at(e.start, "utf-32")[0] for e in edits}
    judged = judge(doc.text, doc.language_id, edits, latest, (), positions, options.min_confidence)
    stats = GenerationResult("", "stop", n_prompt, reused)
    return Prediction(judged.kept, region.start, region.end, new, judged.dropped, stats, time.monotonic() - t0,
                      choices)


Scored = tuple[int, int, tuple[str, ...], tuple[float, ...]]


def _choose(engine: Engine, head: Segments, before: str, line: CandidateLine, session: str,
            cancel: CancelToken, options: Options) -> tuple[str, Scored | None]:
    """The variant of ``line`` the model finds likeliest (``margin`` per change in its favour of
    the line as it stands; a line with only sure changes has one variant and no model run); with
    it, (tokens reused, prompt tokens, variants, their scores), or None when cancelled."""
    variants = line_choices(line)
    texts = tuple(v for v, _ in variants)
    if options.judge_all or len(variants) == 1:
        return variants[-1][0], (0, 0, texts, ())
    job = ScoreJob(followed_by(head, before), texts, session)
    scored = engine.score(job, cancel)
    if cancel.cancelled or len(scored.logprobs) != len(variants):
        return line.text, None
    best = max(range(len(variants)), key=lambda i: scored.logprobs[i] - options.margin * len(variants[i][1]))
    return variants[best][0], (scored.n_reused, scored.n_prompt, texts, scored.logprobs)


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
