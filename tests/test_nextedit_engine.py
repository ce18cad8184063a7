"""The in-process engine's rewrite on the real test model: the original region as a verified
draft gives the same text as plain greedy decoding, in fewer model calls, and leaves the
completions' KV cache alone."""

from __future__ import annotations

import pytest

from lsp_server.context.templates import Segment
from lsp_server.context.types import Prompt
from lsp_server.documents import Snapshot
from lsp_server.engine.base import CancelToken, GenerationJob, RewriteJob, ScoreJob
from lsp_server.engine.llama_cpp import LlamaCppEngine, RegionDraft
from lsp_server.nextedit.history import EditHistory
from lsp_server.nextedit.predict import Options, Prediction, predict

pytestmark = pytest.mark.model
REGION = "def area(w, h):\n    total = w * h\n    return total\n\n\nprint(area(2, 3))\n"


def chat(region: str) -> tuple[Segment, ...]:
    return (
        Segment("<|im_start|>", True), Segment("user\nRepeat this code exactly:\n```python\n" + region + "```"),
        Segment("<|im_end|>", True), Segment("\n"), Segment("<|im_start|>", True), Segment("assistant\n```python\n"),
    )


def test_region_draft_follows_a_copy_and_resyncs_after_a_change() -> None:
    draft = RegionDraft([1, 2, 3, 4, 5, 6])
    draft.follow([1])
    assert draft.next(2) == [2, 3]
    draft.follow([1, 9])  # left the original
    assert draft.pos == 7 and draft.next(3) == []
    draft.follow([1, 9, 4])  # rejoined: 4 is followed by 5 in the original
    assert draft.next(2) == [5, 6]


def test_the_draft_changes_speed_not_text(engine: LlamaCppEngine) -> None:
    job = RewriteJob(chat(REGION), REGION, max_tokens=60)
    with_draft = engine.rewrite(job, CancelToken())
    without = engine.rewrite(RewriteJob(job.segments, "", max_tokens=60), CancelToken())
    assert with_draft.text == without.text
    assert with_draft.text.startswith(REGION)
    assert with_draft.drafted > 0 and with_draft.accepted >= with_draft.drafted // 2
    assert without.drafted == 0


def test_the_rewrite_reuses_its_own_prefix_and_keeps_the_completion_cache(engine: LlamaCppEngine) -> None:
    prefix = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(10))
    engine.generate(GenerationJob(Prompt(prefix, "\n", "def g("), max_tokens=2), CancelToken())
    engine.rewrite(RewriteJob(chat(REGION), REGION, max_tokens=8), CancelToken())
    again = engine.rewrite(RewriteJob(chat(REGION + "x = 1\n"), REGION, max_tokens=8), CancelToken())
    assert again.n_reused > again.n_prompt // 2
    after = engine.generate(GenerationJob(Prompt(prefix, "\n", "def g(a"), max_tokens=2), CancelToken())
    assert after.n_reused >= after.n_prompt - 3  # the completion's cache survived the rewrites


def edited(engine: LlamaCppEngine, text: str, old: str, new: str, options: Options | None = None,
           uri: str = "file:///a.py") -> tuple[Snapshot, Prediction]:
    """``text`` with the first ``old`` typed over as ``new`` (the cursor after it), and the
    prediction."""
    after = Snapshot(uri, text.replace(old, new, 1), 2, "python")
    history = EditHistory()
    history.record(Snapshot(uri, text, 1, "python"), after)
    cursor = text.index(old) + len(new)
    return after, predict(engine, engine.info(), after, cursor, history.recent(uri), lambda u: "a.py", CancelToken(),
                          options or Options())


def test_a_rename_prediction_on_the_real_model_returns_word_edits(engine: LlamaCppEngine) -> None:
    _, found = edited(engine, REGION, "w", "width", Options(mode="rewrite"))
    assert found.result is not None and found.result.n_prompt > 100
    for edit in found.edits:  # whatever the small model proposes, it is a word-sized edit of the region
        assert found.region_start <= edit.start <= edit.end <= found.region_end
        assert "\n" not in edit.old


def test_scoring_prefers_the_line_that_fits_the_renamed_code_and_keeps_the_completion_cache(
    engine: LlamaCppEngine,
) -> None:
    prefix = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(10))
    engine.generate(GenerationJob(Prompt(prefix, "\n", "def g("), max_tokens=2), CancelToken())
    code = (Segment("def area(width, height):\n    total = width * height\n"),)
    job = ScoreJob(code, ("    return total * width\n", "    return total * w\n"))
    first = engine.score(job, CancelToken())
    assert len(first.logprobs) == 2 and all(lp < 0 for lp in first.logprobs)
    assert first.logprobs[0] > first.logprobs[1]  # `w` is not defined here
    again = engine.score(job, CancelToken())
    # the alternatives left no trace (a batch of another size rounds a little differently)
    assert again.logprobs == pytest.approx(first.logprobs, abs=0.1)
    assert again.n_reused == again.n_prompt - 1
    after = engine.generate(GenerationJob(Prompt(prefix, "\n", "def g(a"), max_tokens=2), CancelToken())
    assert after.n_reused >= after.n_prompt - 3


def test_a_definition_is_carried_by_rule_and_a_changed_use_by_the_model(engine: LlamaCppEngine) -> None:
    after, found = edited(engine, REGION, "w", "width")
    assert [(e.old, e.text) for e in found.edits] == [("w", "width")]
    assert after.text[found.edits[0].start - 12 : found.edits[0].end] == "    total = w"
    assert found.result is not None and found.result.n_prompt == 0  # a renamed parameter: no model run

    used = "def area(w, h):\n    total = w * h\n    return total * w\n"
    _, found = edited(engine, used, "total = w", "total = width", uri="file:///b.py")
    (line, variants, logprobs), = found.choices  # one use changed: the model chooses for the other
    assert variants == ("    return total * w\n", "    return total * width\n")
    assert len(logprobs) == 2 and all(lp < 0 for lp in logprobs)
    assert bool(found.edits) == (logprobs[1] > logprobs[0])
