"""``python -m bench.draft``: speculative decoding with the 0.5B drafting for the 1.5B, measured
before anything is built (issue 22). A design experiment, not wired into the engine.

In process, through the engine's own `LlamaAdapter`, both models with 2 threads. For each of
``--n`` code continuations (FIM prompts from standard-library modules, the cursor on the empty
line inside a function body nearest the file's middle, as `bench.cold`), the target (1.5B)
evaluates the prompt once, then greedily writes up to ``--tokens`` tokens three ways, each from
the same cache state:

- ``plain``: one token per evaluation;
- ``lookup``: the engine's prompt-lookup drafts (`lookup_draft`: up to 3 tokens that followed the
  latest earlier occurrence of the last 4 or 3 tokens), checked in one batch;
- ``model``: the draft model (0.5B) writes up to ``--draft-max`` tokens greedily while its top
  probability is at least ``--p-min`` (llama.cpp's speculative defaults: 16 and 0.75 there), the
  target checks them in one batch, keeps the longest agreeing prefix plus its own next token, and
  both caches drop what was rejected. The draft model's own prompt evaluation is timed apart.

Greedy decoding with a draft is lossless in exact arithmetic: the three texts should be the same
(batched and single evaluation may differ in the last bits; a divergence is counted). Printed:
generated tokens/s of each way, the acceptance (drafted tokens kept), and the vocabulary check
llama.cpp makes before it lets one model draft for another (`common_speculative_are_compatible`:
same vocabulary type and BOS/EOS, sizes within 128, the same text for every token from id 5).

A benchmark that prints numbers; nothing here passes or fails on a timing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import sysconfig
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from bench.cold import cursor_lines
from bench.realsources import STDLIB
from bench.repo import git_commit
from lsp_server import models
from lsp_server.engine.kv_store import common_prefix
from lsp_server.engine.llama_adapter import LlamaAdapter
from lsp_server.engine.llama_cpp import DRAFT_MAX, lookup_draft

TARGET, DRAFT = "qwen2.5-coder-1.5b-offline", "qwen2.5-coder-0.5b-offline"
PREFIX_CHARS, SUFFIX_CHARS = 1500, 500
VOCAB_MAX_DIFF, VOCAB_CHECK_FROM = 128, 5  # llama.cpp's common/speculative.cpp


@dataclass
class Way:
    """One way of decoding, summed over the continuations."""

    generated: int = 0
    seconds: float = 0.0
    steps: int = 0  # target evaluations
    drafted: int = 0
    accepted: int = 0
    draft_s: float = 0.0  # the draft model's share of ``seconds``
    texts: list[list[int]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k != "texts"}
        out["tok_s"] = self.generated / self.seconds if self.seconds else None
        out["acceptance"] = self.accepted / self.drafted if self.drafted else None
        out["tokens_per_step"] = self.generated / self.steps if self.steps else None
        return out


def vocab_report(target: LlamaAdapter, draft: LlamaAdapter) -> dict[str, Any]:
    """The checks llama.cpp makes before one model drafts for another."""
    nt, nd = target._n_vocab, draft._n_vocab
    differ = [t for t in range(VOCAB_CHECK_FROM, min(nt, nd)) if target._text(t) != draft._text(t)]
    same_ends = all(getattr(target._lib, f)(target._vocab) == getattr(draft._lib, f)(draft._vocab)
                    for f in ("llama_vocab_bos", "llama_vocab_eos", "llama_vocab_type"))  # fmt: skip
    return {"n_vocab": [nt, nd], "tokens_differing": len(differ), "first_differing": differ[:5],
            "same_type_bos_eos": same_ends, "same_start": target.prompt_start() == draft.prompt_start(),
            "compatible": abs(nt - nd) <= VOCAB_MAX_DIFF and not differ and same_ends}  # fmt: skip


def prompts(n: int, fim: tuple[int, int, int], model: LlamaAdapter) -> list[tuple[str, list[int]]]:
    """FIM prompts at the middle empty line in a function body of the first ``n`` usable modules."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    out: list[tuple[str, list[int]]] = []
    for name in STDLIB:
        try:
            text = (stdlib / name).read_text()
            line = cursor_lines(text)["middle"]
        except (OSError, ValueError, SyntaxError):
            continue
        offset = sum(len(s) for s in text.splitlines(keepends=True)[:line])
        pre, suf = text[max(0, offset - PREFIX_CHARS) : offset], text[offset : offset + SUFFIX_CHARS]
        pre = pre[pre.find("\n") + 1 :] if offset > PREFIX_CHARS else pre  # whole lines
        suf = suf[: suf.rfind("\n") + 1] or suf
        toks = [*model.prompt_start(), fim[0], *model.tokenize(pre), fim[1], *model.tokenize(suf), fim[2]]
        out.append((name, toks))
        if len(out) == n:
            break
    return out


def argmax(model: LlamaAdapter, i: int = -1) -> int:
    return int(np.argmax(model.logits(i)))


def top_prob(model: LlamaAdapter) -> tuple[int, float]:
    logits = model.logits(-1).astype(np.float64)
    best = int(np.argmax(logits))
    return best, float(1.0 / np.exp(logits - logits[best]).sum())


def sync(model: LlamaAdapter, seq: list[int]) -> None:
    """Make ``model``'s cache hold exactly ``seq`` (keep the common prefix, evaluate the rest)."""
    keep = common_prefix(model.cached_tokens(), seq)
    if keep == len(seq):  # the last token must be evaluated again for its logits
        keep -= 1
    model.truncate(keep)
    model.eval(seq[keep:])


def decode(target: LlamaAdapter, n_prompt: int, first: int, limit: int, way: str, draft: LlamaAdapter | None,
           draft_max: int, p_min: float, acc: Way) -> None:  # fmt: skip
    """Greedy decoding of up to ``limit`` tokens after the prompt (its first token ``first``)."""
    target.truncate(n_prompt)
    seq = target.cached_tokens().tolist()
    out: list[int] = []
    token = first
    t0 = time.monotonic()
    while len(out) < limit and not target.is_eog(token):
        seq.append(token)
        out.append(token)
        if way == "plain":
            target.eval([token])
            acc.steps += 1
            token = argmax(target)
            continue
        if way == "lookup":
            guess = lookup_draft(seq, DRAFT_MAX)
        else:
            assert draft is not None
            d0 = time.monotonic()
            sync(draft, seq)
            guess = []
            while len(guess) < min(draft_max, limit - len(out)):
                best, p = top_prob(draft)
                if p < p_min:
                    break
                guess.append(best)
                draft.eval([best])
            acc.draft_s += time.monotonic() - d0
        guess = guess[: max(0, limit - len(out))]
        target.eval_each([token, *guess])
        acc.steps += 1
        predicted = [argmax(target, i) for i in range(len(guess) + 1)]
        kept = 0
        while kept < len(guess) and guess[kept] == predicted[kept] and not target.is_eog(guess[kept]):
            kept += 1
        target.truncate(target.n_cached - (len(guess) - kept))
        acc.drafted += len(guess)
        acc.accepted += kept
        seq += guess[:kept]
        out += guess[:kept]
        token = predicted[kept]
    acc.seconds += time.monotonic() - t0
    acc.generated += len(out)
    acc.texts.append(out)


def fim_ids(model: LlamaAdapter) -> tuple[int, int, int]:
    special = {text: tok for tok, text in model.special_pieces()}
    return special["<|fim_prefix|>"], special["<|fim_suffix|>"], special["<|fim_middle|>"]


def run(args: argparse.Namespace, log: Any) -> dict[str, Any]:
    paths = {name: models.local_path(name) for name in (args.target, args.draft)}
    missing = [n for n, p in paths.items() if p is None]
    if missing:
        raise SystemExit(f"missing model(s): {missing}; run `fim-lsp model pull <preset>`")
    opts = {"n_ctx": 2048, "n_batch": 512, "n_threads": args.threads, "n_gpu_layers": 0}
    target = LlamaAdapter.open(paths[args.target], **opts)  # type: ignore[arg-type]
    draft = LlamaAdapter.open(paths[args.draft], **opts)  # type: ignore[arg-type]
    vocab = vocab_report(target, draft)
    log(f"vocabularies: {vocab}")
    ways = {w: Way() for w in ("plain", "lookup", "model")}
    prompt_s = {"target": 0.0, "draft": 0.0}
    cases = prompts(args.n, fim_ids(target), target)
    for name, toks in cases:
        t0 = time.monotonic()
        target.truncate(0)
        target.eval(toks)
        first = argmax(target)
        t1 = time.monotonic()
        draft.truncate(0)
        draft.eval(toks)
        prompt_s["target"] += t1 - t0
        prompt_s["draft"] += time.monotonic() - t1
        for way, acc in ways.items():
            decode(target, len(toks), first, args.tokens, way, draft if way == "model" else None, args.draft_max,
                   args.p_min, acc)  # fmt: skip
        log(f"{name}: prompt {len(toks)} tokens; " + "; ".join(
            f"{w} {a.texts[-1] == ways['plain'].texts[-1] and 'same' or 'DIFFERS'}" for w, a in ways.items()))
    same = {w: sum(a == b for a, b in zip(acc.texts, ways["plain"].texts, strict=True)) for w, acc in ways.items()}
    return {"vocab": vocab, "cases": [n for n, _ in cases], "prompt_tokens": [len(t) for _, t in cases],
            "prompt_s": prompt_s, "ways": {w: a.as_dict() for w, a in ways.items()}, "same_text_as_plain": same}  # fmt: skip


def table(rec: dict[str, Any]) -> str:
    plain = rec["ways"]["plain"]["tok_s"]
    lines = ["| way | generated tokens | tokens/s | ratio to plain | target evaluations | drafted | kept "
             "| draft model s |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for way, w in rec["ways"].items():
        acc = f"{w['accepted']} ({100 * w['acceptance']:.0f}%)" if w["acceptance"] is not None else "-"
        ratio = f"{w['tok_s'] / plain:.2f}" if plain and w["tok_s"] else "-"
        lines.append(f"| {way} | {w['generated']} | {w['tok_s']:.2f} | {ratio} | {w['steps']} | {w['drafted']} "
                     f"| {acc} | {w['draft_s']:.1f} |")  # fmt: skip
    return "\n".join(lines)


_T0 = time.monotonic()


def log(msg: str) -> None:
    print(f"[draft {time.monotonic() - _T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.draft", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--target", default=TARGET)
    ap.add_argument("--draft", default=DRAFT)
    ap.add_argument("--n", type=int, default=10, help="continuations (default: %(default)s)")
    ap.add_argument("--tokens", type=int, default=32, help="tokens per continuation (default: %(default)s)")
    ap.add_argument("--draft-max", type=int, default=8, help="draft tokens per step at most (default: %(default)s)")
    ap.add_argument("--p-min", type=float, default=0.75, help="the draft stops below this top probability")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None, help="JSON record (default: /tmp/fim-draft-<UTC time>.json)")
    args = ap.parse_args(argv)
    started = datetime.now(timezone.utc)
    out = args.out or Path(f"/tmp/fim-draft-{started.strftime('%Y%m%dT%H%M%SZ')}.json")
    load0 = os.getloadavg()
    rec = run(args, log)
    rec["meta"] = {"command": "python -m bench.draft " + " ".join(sys.argv[1:] if argv is None else argv),
                   "started": started.isoformat(timespec="seconds"), "loadavg_start": load0,
                   "loadavg_end": os.getloadavg(), **vars(args), "out": str(out), **git_commit()}  # fmt: skip
    rec["table"] = table(rec)
    out.write_text(json.dumps(rec, indent=1, default=str) + "\n")
    print(rec["table"])
    ps = rec["prompt_s"]
    print(f"prompts: {sum(rec['prompt_tokens'])} tokens; target {ps['target']:.1f} s, draft {ps['draft']:.1f} s; "
          f"vocabularies compatible: {rec['vocab']['compatible']}; same text as plain: {rec['same_text_as_plain']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
