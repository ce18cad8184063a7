"""A timed probe of a model's speed on this machine, for ``model: auto`` (models.choose).

Seconds, not minutes: one prompt of PROBE_PROMPT_TOKENS evaluated in chunks as requests are, then
PROBE_GEN_TOKENS greedy tokens one at a time. Measured once per machine, llama.cpp build, model
file and thread count, and kept in the cache directory (`models.known_speed`): later starts read it.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from lsp_server import models
from lsp_server.engine.llama_adapter import LlamaAdapter, load_library

log = logging.getLogger(__name__)

PROBE_PROMPT_TOKENS = 256
PROBE_GEN_TOKENS = 32
PROBE_BATCH = 64  # the engine's default nBatch: prompts are evaluated in such chunks
# Code to evaluate: its tokens, repeated as needed (what is evaluated does not change the speed).
PROBE_TEXT = '''def merge(left, right):
    """Merge two sorted lists into one sorted list."""
    out, i, j = [], 0, 0
    while i < len(left) and j < len(right):
        if left[i] <= right[j]:
            out.append(left[i])
            i += 1
        else:
            out.append(right[j])
            j += 1
    out.extend(left[i:])
    out.extend(right[j:])
    return out


class Counter:
    def __init__(self, items=()):
        self.counts = {}
        for item in items:
            self.add(item)

    def add(self, item, n=1):
        self.counts[item] = self.counts.get(item, 0) + n
'''


def measure(path: Path, n_threads: int) -> models.Speed:
    """Load the model and time its prompt and generation speed (a few seconds on a CPU)."""
    load_library()
    llm = LlamaAdapter.open(path, n_ctx=1024, n_batch=512, n_threads=n_threads, n_gpu_layers=0)
    try:
        text = PROBE_TEXT
        tokens = llm.tokenize(text)
        while len(tokens) < PROBE_PROMPT_TOKENS:
            tokens += llm.tokenize(text)
        tokens = llm.prompt_start() + tokens[:PROBE_PROMPT_TOKENS]
        llm.eval(tokens[:8])  # the first evaluation's one-time costs are not the speed
        t0 = time.monotonic()
        for i in range(8, len(tokens), PROBE_BATCH):
            llm.eval(tokens[i : i + PROBE_BATCH])
        t1 = time.monotonic()
        for _ in range(PROBE_GEN_TOKENS):
            llm.eval([int(np.argmax(llm.logits()))])
        t2 = time.monotonic()
    finally:
        llm.close()
    return models.Speed((len(tokens) - 8) / (t1 - t0), PROBE_GEN_TOKENS / (t2 - t1))


def machine_speeds(n_threads: int, progress: models.Progress | None = None) -> dict[str, models.Speed]:
    """The speed of each size whose offline preset is on disk: kept from an earlier probe, else
    measured now and kept (`models.known_speed`)."""
    found: dict[str, models.Speed] = {}
    for size, (offline, _hub) in models.SIZES.items():
        path = models.preset_path(models.PRESETS[offline])
        if not path.is_file():
            continue
        known = models.known_speed(path, n_threads)
        if known is None:
            if progress is not None:
                progress(f"Measuring the {size} model's speed on this machine (once)", None)
            t0 = time.monotonic()
            known = measure(path, n_threads)
            log.info("probe of %s on %d threads: prompt %.0f, generation %.0f tokens/s (%.1f s)", path.name,
                     n_threads, known.prompt_tps, known.gen_tps, time.monotonic() - t0)  # fmt: skip
            models.remember_speed(path, n_threads, known)
        found[size] = known
    return found
