"""record.json from the typed results: the one place that knows its keys.

`bench.report`, the tests and anyone comparing runs read these keys; the layout is the one of
earlier runs, key order included.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bench import realcode
from bench.floor import FloorModel
from bench.quality import QualityRecord, quality_summary
from bench.realcode import CodeHole
from bench.replay import RequestRecord, summarize
from bench.runner import Replayed, SystemResult, TokenTotals
from bench.scoring import percentile
from bench.tasks import InfillTask
from bench.traces import Trace


@dataclass(frozen=True)
class QualityScores:
    """The executed quality records of every system and floor, and the harness check."""

    by_system: dict[str, list[QualityRecord]]  # in report order
    tasks: dict[str, InfillTask]  # by task id
    canonical_passed: int
    canonical_n: int

    @property
    def notes(self) -> list[str]:
        ok, n = self.canonical_passed, self.canonical_n
        return [] if ok == n else [f"only {ok}/{n} canonical solutions pass: harness problem"]


def assemble(
    *, meta: dict[str, Any], end_meta: dict[str, Any], floor: dict[str, Any], systems: list[SystemResult],
    fmodel: FloorModel | None, quality: QualityScores | None, traces: list[Trace],
    naive_realcode: list[dict], holes: list[CodeHole],
) -> dict[str, Any]:
    """The whole record: ``meta`` then the systems' own meta then ``end_meta``; the systems in
    the order they ran; the floors' rows after the systems'."""
    raw_realcode = {s.key: s.realcode for s in systems if s.realcode is not None}
    if naive_realcode:
        raw_realcode["naive-first-line"] = naive_realcode
    rec: dict[str, Any] = {
        "meta": {**meta, **{k: v for s in systems for k, v in s.meta.items()}, **end_meta},
        "floor": floor,
        "quality": _quality_section(quality),
        "typing": typing_section(systems, fmodel),
        "startup": {s.key: startup(s) for s in systems},
        "traces": traces_json(traces),
        "notes": [n for s in systems for n in s.notes] + (quality.notes if quality is not None else []),
        "realcode": {name: realcode.summary(rows) for name, rows in raw_realcode.items()},
        "raw": {
            "typing": {f"{s.key}/{beh}": records_json(t.replays) for s in systems for beh, t in s.typing.items()},
            "quality": {name: [{**asdict(r), "program": None} for r in recs]
                        for name, recs in (quality.by_system.items() if quality is not None else ())},
            "realcode": raw_realcode,
        },
    }  # fmt: skip
    if quality is not None:
        rec["quality_check"] = f"{quality.canonical_passed}/{quality.canonical_n}"
    if holes:
        rec["realcode_holes"] = [{"hole": h.hole_id, "path": h.path, "sha256": h.sha256} for h in holes]
    if "ours" in raw_realcode and "naive-first-line" in raw_realcode:
        rec["realcode_empty"] = realcode.empty_where_floor_answers(raw_realcode["ours"], raw_realcode["naive-first-line"])
    return rec


def _quality_section(quality: QualityScores | None) -> dict[str, Any]:
    if quality is None:
        return {}
    return {name: quality_summary(recs, quality.tasks) for name, recs in quality.by_system.items()}


def startup(result: SystemResult) -> dict[str, Any]:
    out: dict[str, Any] = {"ready_s": result.ready_s, "cold_start_s": result.cold_start_s}
    if result.ending.keeps_stats:
        out["stats_end"] = result.ending.stats
    out["peak_rss_bytes"] = result.ending.peak_rss_bytes
    return out


def typing_section(systems: list[SystemResult], fmodel: FloorModel | None) -> dict[str, Any]:
    """Per behaviour, per system: the pooled summary of its replays."""
    out: dict[str, Any] = {}
    for s in systems:
        for beh, t in s.typing.items():
            out.setdefault(beh, {})[s.key] = typing_summary(
                [r.timeline for r in t.replays], tokens_json(t.tokens), fmodel
            )
    return out


def typing_summary(
    replays: list[tuple[list[RequestRecord], list[float]]], tokens: dict, fmodel: FloorModel | None
) -> dict[str, Any]:
    s = summarize(replays).as_dict()
    answered = [r for recs, _ in replays for r in recs if r.outcome in ("shown", "stale")]
    s["latencies_answered_s"] = [r.latency for r in answered if r.latency is not None]
    shown = [r for recs, _ in replays for r in recs if r.outcome == "shown"]
    floors: list[tuple[float, float]] = []
    for r in shown:
        f = floor_of(r, fmodel)
        if f and r.latency is not None:
            floors.append((r.latency, f))
    s["floor"] = {
        "n": len(floors),
        "p50_s": percentile([f for _, f in floors], 50),
        "latency_over_floor_p50": percentile([lat / f for lat, f in floors], 50),
    }
    s["tokens"] = tokens
    return s


def floor_of(rec: RequestRecord, model: FloorModel | None) -> float | None:
    """llama.cpp alone for this answer's own token counts; None when served from a cache."""
    if model is None:
        return None
    last, tim = rec.info.get("last"), rec.info.get("timings")
    if isinstance(last, dict) and last.get("nPrompt") is not None:
        # fim-lsp counts nPrompt as the whole prompt, nReused as the part the KV cache held.
        n_eval = (last.get("nPrompt") or 0) - (last.get("nReused") or 0)
        n_gen = last.get("nGenerated") or 0
    elif isinstance(tim, dict) and tim.get("prompt_n") is not None:
        n_eval, n_gen = tim.get("prompt_n") or 0, tim.get("predicted_n") or 0
    else:
        return None
    if n_eval + n_gen == 0 or rec.info.get("from_cache"):
        return None  # served from a cache: no model work at all
    return model.time(n_eval, n_gen)


def tokens_json(t: TokenTotals) -> dict[str, Any]:
    total = (t.evaluated or 0) + (t.reused or 0)
    out: dict[str, Any] = {
        "prompt_evaluated": t.evaluated,
        "prompt_reused": t.reused,
        "reuse_share": (t.reused / total) if t.reused is not None and total else None,
        "generated": t.generated,
        "gen_tok_s": (t.generated / t.gen_s) if t.generated and t.gen_s else None,
    }
    if t.counted is not None:
        out["counted"] = t.counted
    return out


def records_json(replays: list[Replayed]) -> list[dict[str, Any]]:
    """Every request of every replay, its text cut to 400 characters."""
    return [
        {
            "trace": r.trace,
            "key_times": [round(k, 4) for k in r.key_times],
            "requests": [{**asdict(q), "text": (q.text or "")[:400]} for q in r.records],
        }
        for r in replays
    ]


def traces_json(traces: list[Trace]) -> list[dict[str, Any]]:
    return [{"name": t.name, "path": t.source_path, "sha256": t.source_sha256,
             "body_chars": len(t.body), "keystrokes": len(t.keystrokes), "duration_s": t.end_t,
             "pauses": sum(g >= 0.3 for g in t.gaps())} for t in traces]  # fmt: skip
