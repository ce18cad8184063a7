"""Raw generations for post-processing work: ``python -m bench.rawgen OUT.jsonl``.

For each selected task and editor state, the prompt fim-lsp builds (`pipeline.prepare`: same
windows, indentation healing and first-line constraints) and the engine's greedy continuation
up to ``--max-tokens`` or the model's end, with no cut rule and no time budget. Cut and gate
rules are then studied offline on these records (`bench.offline`), in seconds instead of one
model run per variant. Not part of the quoted benchmark.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from bench.tasks import (
    SPLITS,
    default_data_dir,
    load_split,
    select_per_problem,
    states_for,
    subsample,
)
from lsp_server.config import PromptSettings, Settings
from lsp_server.context.window import Anchor
from lsp_server.engine.base import CancelToken
from lsp_server.engine.llama_cpp import LlamaCppEngine
from lsp_server.pipeline import job_for, prepare

REPO = Path(__file__).resolve().parents[1]


_seen: dict[tuple, dict] = {}


def generate(engine: LlamaCppEngine, text: str, offset: int, settings: PromptSettings, lag: int = 0,
             early_stop: bool = False) -> dict:  # fmt: skip
    # With a lag, the prompt is anchored that many lines above the cursor, as while typing.
    previous = Anchor(0, max(0, text.count("\n", 0, offset) - lag)) if lag else None
    prepared, _ = prepare(text, offset, settings, engine.count_tokens, previous, language="python")
    job = replace(job_for(prepared, prepared.should_stop() if early_stop else None), max_tokens=settings.max_tokens,
                  time_budget_s=None)  # fmt: skip
    # Editor states often give the same prompt and constraints (column 0 and auto-indent do,
    # since the indentation is healed): greedy decoding then writes the same text.
    key = (tuple(engine.tokens_for(prepared.prompt)), job.indents, job.needs_text, job.avoid, job.heal, job.max_tokens, text[offset:])
    if key not in _seen:
        result = engine.generate(job, CancelToken())
        _seen[key] = {"raw": result.text, "stop_reason": result.stop_reason, "n_prompt": result.n_prompt,
                      "n_generated": result.n_generated}  # fmt: skip
    return {"indent": prepared.indent, **_seen[key], "indents": prepared.indents, "needs_text": prepared.needs_text}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.rawgen", description=__doc__)
    ap.add_argument("out", type=Path)
    ap.add_argument("--data", type=Path, default=default_data_dir(REPO))
    ap.add_argument("--model", default="qwen2.5-coder-0.5b-offline")
    ap.add_argument("--seed", type=int, default=20261127)
    ap.add_argument("--tasks", type=int, default=None)
    ap.add_argument("--splits", default=",".join(SPLITS))
    ap.add_argument("--states", default="", help="comma list (default: every state of each split)")
    ap.add_argument("--max-tokens", type=int, default=96)
    ap.add_argument("--anchor-lag", type=int, default=0, help="anchor the prompt this many lines above the cursor")
    ap.add_argument("--early-stop", action="store_true",
                    help="stop where the server's cut rules would (faster; later cut rules cannot be studied)")
    ap.add_argument("--layout", default="anchored", choices=("anchored", "psm"))
    ap.add_argument("--prefix-tokens", type=int, default=PromptSettings.prefix_tokens)
    ap.add_argument("--suffix-tokens", type=int, default=PromptSettings.suffix_tokens)
    a = ap.parse_args(argv)
    settings = Settings.of(model=a.model, n_threads=2, max_tokens=a.max_tokens, prefix_tokens=a.prefix_tokens,
                        suffix_tokens=a.suffix_tokens, prompt_layout=a.layout)  # fmt: skip
    engine = LlamaCppEngine(settings.engine)
    engine.load(lambda *_: None)
    done = set()
    if a.out.exists():
        done = {(r["task_id"], r["state"]) for r in map(json.loads, a.out.read_text().splitlines())}
    wanted = {s for s in a.states.split(",") if s}
    t0 = time.monotonic()
    with a.out.open("a") as out:
        for split in a.splits.split(","):
            tasks = subsample(select_per_problem(load_split(a.data, split), a.seed), a.tasks, a.seed)
            for state in states_for(split):
                if wanted and state not in wanted:
                    continue
                for i, task in enumerate(tasks):
                    if (task.task_id, state) in done:
                        continue
                    view = task.view(state)
                    rec = generate(engine, view.text, view.offset, settings.prompt, a.anchor_lag, a.early_stop)
                    out.write(json.dumps({"task_id": task.task_id, "split": split, "state": state, **rec}) + "\n")
                    out.flush()
                    if i % 20 == 0:
                        print(f"[{time.monotonic() - t0:6.0f}s] {split} {state} {i}/{len(tasks)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
