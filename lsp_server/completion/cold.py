"""The cold-start window: a first suggestion in seconds where the full prompt would take many.

A request whose prompt is mostly not in the KV cache (a file just opened: about 4 s for a
500-token prompt with the 0.5B on 2 cores) would wait for all of it. Instead it gets a smaller
window around the cursor, as many tokens as the engine evaluates in ``coldBudgetMs`` at its
measured speed, and its generation stops at the first line end past half that time (a block
opened there gets its first line); the full window is then evaluated in the background, so the
requests after it get today's prompt. Pure: the runner (run.py) asks the engine for the counts
and applies the plan.
"""

from __future__ import annotations

from dataclasses import replace

from lsp_server.config import PromptSettings
from lsp_server.pipeline import Prepared

# Prompt tokens/s assumed before the engine measured any: the 0.5B on 2 busy cores evaluates
# 100-250 (bench/README.md), so a guess from the low end keeps the first window in budget.
DEFAULT_RATE = 100.0
# Fewer file tokens than this is too little context to be worth a suggestion: below it, the
# window keeps this many and the budget is overrun rather than the answer spoilt.
MIN_WINDOW_TOKENS = 96
# Tokens of a prompt outside its windows (FIM markers, the file name): not scaled.
OVERHEAD_TOKENS = 16
# A prompt with this share of its missing tokens already cached is warm enough for its full
# window: the small one would evict that share, and the requests after it evaluate it again.
WARM_SHARE = 0.5
# The share of ``coldBudgetMs`` a cold request generates for before it stops at a line end.
GENERATION_SHARE = 0.5


def tokens_within(rate: float | None, budget_ms: int) -> int:
    """Prompt tokens the engine evaluates in ``budget_ms`` at ``rate`` tokens/s (the default
    rate when none was measured yet)."""
    return int((rate if rate and rate > 0 else DEFAULT_RATE) * budget_ms / 1000)


def cold_settings(shape: PromptSettings, missing: int, total: int, fits: int) -> PromptSettings | None:
    """The prompt shape of a cold request: the windows scaled down so the prompt's ``total``
    tokens, ``missing`` of them not in the KV cache, become about ``fits``; context from other
    files is left out (it comes before the file's text and is the first thing to wait for).
    None when the request is not cold: what it must evaluate fits (or a smaller window would
    cost as much), or the cache holds at least ``WARM_SHARE`` of what is missing (a re-anchor
    while typing: the small window shares no start with the full one, so it would evict the
    cached prefix and leave the next request all of it), so it gets today's prompt. A cached
    head alone (the import lines at a jump, a prewarmed file start) is less than that, and
    does not keep a small window away; other files' context on top of it may be."""
    least = max(fits, MIN_WINDOW_TOKENS + OVERHEAD_TOKENS)
    if shape.cold_budget_ms <= 0 or missing <= least or total - missing >= missing * WARM_SHARE:
        return None  # in budget, no more than the smallest window would cost, or mostly warm
    windows = shape.prefix_tokens + shape.suffix_tokens
    if windows <= 0:
        return None
    room = max(MIN_WINDOW_TOKENS, fits - OVERHEAD_TOKENS)
    if room >= windows:  # the other context is what does not fit: leave it out only
        scale = 1.0
    else:
        scale = room / windows
    return replace(shape, prefix_tokens=int(shape.prefix_tokens * scale), suffix_tokens=int(shape.suffix_tokens * scale),
                   import_context_tokens=0, extra_context=False, repo_context=False)  # fmt: skip


def hurried(prepared: Prepared, cold_budget_ms: int) -> Prepared:
    """The run cut where one more line would end past its share of ``cold_budget_ms`` of
    generation: a cold request's suggestion is one line, or a few. A Python line that opens a
    block may be the whole of it (``bodiless_ok``): its body's line took the answer past the
    first-suggestion target (bench.cold: 1.97 s and an empty answer in a newly opened file,
    1.15 s after a restart). In brace languages the block's first line still comes, within the
    run's own budget (its brace must close: cut right after the opener, the gate drops it)."""
    budget_ms = min(prepared.budget_ms, int(cold_budget_ms * GENERATION_SHARE))
    return replace(prepared, budget_ms=budget_ms, grace_ms=prepared.budget_ms + prepared.grace_ms - budget_ms,
                   end_in_budget=True, bodiless_ok=True)
