"""Hypothesis strategies for what clients send: texts, positions, edits, settings, params.

Shared by the pure document fuzzer and the protocol fuzzer. The alphabet leans on the
characters that break position maths: line ends of every kind, astral characters (two UTF-16
units, four UTF-8 bytes), CJK (three UTF-8 bytes), lone surrogates, NUL and tabs.
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from reference import Edit

# CI runs a short, fixed-seed budget; FIM_LSP_FUZZ_BUDGET=N multiplies the examples (and runs
# random seeds) for a longer search on demand.
BUDGET = int(os.environ.get("FIM_LSP_FUZZ_BUDGET", "0") or 0)


def fuzz_settings(examples: int, **extra: Any) -> settings:
    # A long run reports its first failure as found: shrinking through 30-second waits for an
    # answer that never comes would take hours.
    phases = [Phase.explicit, Phase.generate] if BUDGET else list(Phase)
    return settings(max_examples=examples * max(BUDGET, 1), derandomize=BUDGET == 0, deadline=None,
                    suppress_health_check=list(HealthCheck), database=None, phases=phases, **extra)


TRICKY = "\n\r\t \x00abc_(){}:=.'\"#😀漢\u00e9\ufffd\ud800\udfff"
chars = st.sampled_from(TRICKY) | st.characters(codec=None)
texts = st.text(chars, max_size=60)
small = st.integers(min_value=0, max_value=12)
coords = small | st.integers(min_value=-2, max_value=2**31 - 1)


@st.composite
def edits(draw: st.DrawFn) -> Edit:
    if draw(st.integers(0, 9)) == 0:
        return Edit(draw(texts))  # a whole-document replacement
    sl, el = draw(coords), draw(coords)
    return Edit(draw(texts), (sl, draw(coords), el if draw(st.booleans()) else sl, draw(coords)))


notifications = st.lists(edits(), min_size=1, max_size=3)
encodings = st.sampled_from(["utf-16", "utf-8", "utf-32"])

# Settings a client may send, right or wrong: every key, values of every JSON type.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
SETTING_KEYS = ["enabled", "maxTokens", "timeBudgetMs", "typingBudgetMs", "prefixTokens", "suffixTokens",
                "multiline", "disabledLanguages", "extraContext", "extraContextTokens", "repoContext",
                "repoContextTokens", "importContextTokens", "prefetch",
                "suggestionCache", "speculate", "promptLayout", "fimTemplate", "lookupDecoding", "nBatch"]
GOOD = {"enabled": st.booleans(), "maxTokens": st.integers(1, 200), "prefixTokens": st.integers(0, 2**40),
        "suffixTokens": st.integers(0, 2**40), "multiline": st.sampled_from(["auto", "always", "never"]),
        "extraContext": st.booleans(), "extraContextTokens": st.integers(0, 2**40),
        "repoContext": st.booleans(), "repoContextTokens": st.integers(0, 2**40),
        "importContextTokens": st.integers(0, 2**40),
        "promptLayout": st.sampled_from(["anchored", "psm"]), "prefetch": st.booleans(),
        "speculate": st.booleans(), "suggestionCache": st.booleans()}
fim_settings = st.dictionaries(st.sampled_from(SETTING_KEYS), json_values, max_size=4) | st.fixed_dictionaries(
    {}, optional=GOOD)  # type: ignore[arg-type]
