"""The naive floors: plain PSM prompt through llama-cpp-python, greedy, no post-processing.

Run as a subprocess (``python -m bench.naive IN OUT``) so the model's memory and threads leave
with it. IN is a JSON list of ``{"id", "prompt", "suffix", "max_tokens", "first_line"}``; OUT gets
one JSON line each (``task_id`` is the job's id). Generation stops at the model's end-of-text /
FIM control tokens, at ``max_tokens``, and with ``first_line`` at the end of the first non-blank
line (the only part that floor keeps, so the rest need not be generated). Jobs that share a
prompt's start reuse its evaluation (llama-cpp-python keeps the common prefix).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

FIM = ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>")
STOP = ("<|endoftext|>", "<|fim_pad|>", "<|file_sep|>", "<|im_end|>", "<|repo_name|>", *FIM)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("tasks")
    ap.add_argument("out")
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ctx", type=int, default=4096)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--lib", default="", help="directory with libllama (LLAMA_CPP_LIB_PATH)")
    a = ap.parse_args(argv)
    if a.lib and not os.environ.get("LLAMA_CPP_LIB_PATH"):
        os.environ["LLAMA_CPP_LIB_PATH"] = a.lib
    import llama_cpp

    llm = llama_cpp.Llama(a.model, n_ctx=a.ctx, n_threads=a.threads, n_threads_batch=a.threads,
                          n_batch=512, verbose=False)  # fmt: skip

    def special(tok: str) -> int | None:
        ids = llm.tokenize(tok.encode(), add_bos=False, special=True)
        return ids[0] if len(ids) == 1 else None

    fim_ids = [special(t) for t in FIM]
    if None in fim_ids:
        print("model has no Qwen-style FIM tokens", file=sys.stderr)
        return 2
    pre, suf, mid = (int(i) for i in fim_ids if i is not None)
    stop_ids = {i for i in (special(t) for t in STOP) if i is not None} | {llm.token_eos()}

    n_prompt = 0

    first_line = False
    text = b""

    def stop(ids, _logits) -> bool:
        # ``ids`` holds the prompt too, and the prompt itself ends with a FIM control token.
        nonlocal text
        if len(ids) <= n_prompt:
            return False
        if int(ids[-1]) in stop_ids:
            return True
        if first_line:
            text += llm.detokenize([int(ids[-1])])
            done = text.decode("utf-8", "ignore")
            return any(line.strip() for line in done.split("\n")[:-1])  # a non-blank line is complete
        return False

    tasks = json.load(open(a.tasks))
    with open(a.out, "w") as out:
        for t in tasks:
            toks = (
                [pre] + llm.tokenize(t["prompt"].encode(), add_bos=False, special=False)
                + [suf] + llm.tokenize(t["suffix"].encode(), add_bos=False, special=False)
                + [mid]
            )  # fmt: skip
            n_prompt = len(toks)
            first_line, text = bool(t.get("first_line")), b""
            t0 = time.monotonic()
            res: Any = llm.create_completion(
                toks, max_tokens=t.get("max_tokens", a.max_tokens), temperature=0.0, top_k=1,
                stopping_criteria=llama_cpp.StoppingCriteriaList([stop]),
            )  # fmt: skip
            dt = time.monotonic() - t0
            middle = res["choices"][0]["text"]
            usage = res.get("usage", {})
            out.write(json.dumps({"task_id": t.get("id", t.get("task_id")), "middle": middle, "latency_s": dt,
                                  "prompt_tokens": usage.get("prompt_tokens"),
                                  "completion_tokens": usage.get("completion_tokens")}) + "\n")  # fmt: skip
            out.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
