"""Turn a run's record into the Markdown table and the latency plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SYSTEMS = ("ours", "peer")
LABEL = {"ours": "fim-lsp", "peer": "llama-server /infill"}
BEHAVIOUR_LABEL = {"every-change": "VS Code-like (request on every change, previous cancelled)",
                   "debounce": "Neovim-like (request after 200 ms of quiet)"}  # fmt: skip


def _ms(x: float | None) -> str:
    return "–" if x is None else f"{x * 1000:.0f}"


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "–"
    return f"{a / b:.2f}"


def _pct(n: int | None, d: int | None) -> tuple[str, float | None]:
    if n is None or not d:
        return "–", None
    return f"{n}/{d} ({100 * n / d:.0f}%)", n / d


def _num(x: float | None, fmt: str = "{:.1f}") -> str:
    return "–" if x is None else fmt.format(x)


def quality_table(q: dict) -> list[str]:
    splits = [s for s in ("single-line", "multi-line", "random-span") if any(s in v for v in q.values())]
    head = (
        "| system | "
        + " | ".join(f"{s} pass@1 | {s} EM | {s} ES" for s in splits)
        + " | mean s/task |"
    )
    lines = [head, "|" + "---|" * (2 + 3 * len(splits))]
    order = [("empty", "floor: empty completion"), ("naive", "floor: naive PSM, llama-cpp-python"),
             ("peer", LABEL["peer"]), ("ours", LABEL["ours"])]  # fmt: skip
    for key, label in order:
        if key not in q:
            continue
        cells = []
        lat = []
        for s in splits:
            r = q[key].get(s)
            if not r:
                cells += ["–"] * 3
                continue
            cells += [f"{100 * r['pass@1']:.1f}% ({r['passed']}/{r['n']})", f"{100 * r['exact_match']:.1f}%",
                      f"{r['edit_similarity']:.3f}"]  # fmt: skip
            if r.get("mean_latency_s") is not None:
                lat.append(r["mean_latency_s"])
        mean = f"{sum(lat) / len(lat):.2f}" if lat else "–"
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {mean} |")
    if "ours" in q and "peer" in q:
        cells = []
        for s in splits:
            o, p = q["ours"].get(s), q["peer"].get(s)
            cells += [_ratio(o and o["pass@1"], p and p["pass@1"]), _ratio(o and o["exact_match"], p and p["exact_match"]),
                      _ratio(o and o["edit_similarity"], p and p["edit_similarity"])]  # fmt: skip
        lines.append("| ratio ours / llama-server | " + " | ".join(cells) + " | |")
    return lines


STATE_ORDER = ("single-line", "single-line / auto-indent", "single-line / next-line", "multi-line",
               "multi-line / auto-indent", "multi-line / next-line", "random-span")  # fmt: skip
STATE_LABEL = {"single-line": "single-line, column 0", "multi-line": "multi-line, column 0",
               "random-span": "random-span, mid-line"}  # fmt: skip


def quality_states_table(q: dict) -> list[str]:
    """pass@1 in every editor state, fim-lsp beside the floors (rows: split and state)."""
    cols = [("ours", LABEL["ours"]), ("naive-first-line", "floor: PSM, first line"),
            ("naive", "floor: PSM, uncut"), ("peer", LABEL["peer"]), ("empty", "floor: empty")]  # fmt: skip
    cols = [(k, label) for k, label in cols if k in q]
    keys = [k for k in STATE_ORDER if any(k in q[c] for c, _ in cols)]
    keys += sorted({k for c, _ in cols for k in q[c]} - set(keys))
    lines = ["| split, editor state | " + " | ".join(label for _, label in cols) + " | fim-lsp − first-line floor |",
             "|---|" + "---|" * (len(cols) + 1)]  # fmt: skip
    for key in keys:
        cells = []
        for c, _ in cols:
            r = q[c].get(key)
            cells.append(f"{100 * r['pass@1']:.1f}% ({r['passed']}/{r['n']})" if r else "–")
        o, f = q.get("ours", {}).get(key), q.get("naive-first-line", {}).get(key)
        gap = f"{100 * (o['pass@1'] - f['pass@1']):+.1f} points" if o and f else "–"
        lines.append(f"| {STATE_LABEL.get(key, key.replace(' / ', ', '))} | " + " | ".join(cells) + f" | {gap} |")
    return lines


def realcode_table(rc: dict, empty: dict | None = None) -> list[str]:
    """Per language (and kind): first-line and whole-hole exact match and edit similarity, the
    file still parsing, no suggestion; fim-lsp beside the plain first-line script."""
    cols = [k for k in ("ours", "naive-first-line") if k in rc]
    keys = sorted(dict.fromkeys(k for c in cols for k in rc[c]), key=lambda k: (k.startswith("all"), k))
    names = " / ".join(LABEL.get(c, "floor") for c in cols)
    head = f"| language / hole | n | first-line EM ({names}) | first-line ES | whole EM | whole ES | parses | empty |"
    lines = [head, "|---|---|---|---|---|---|---|---|"]

    def cell(key: str, metric: str, fmt: str) -> str:
        vals = [rc[c].get(key, {}).get(metric) for c in cols]
        return " / ".join("–" if v is None else fmt.format(100 * v if "%" in fmt else v) for v in vals)

    for key in keys:
        n = next(rc[c][key]["n"] for c in cols if key in rc[c])
        lines.append(f"| {key} | {n} | {cell(key, 'first_exact', '{:.1f}%')} | {cell(key, 'first_es', '{:.3f}')} | "
                     f"{cell(key, 'exact_match', '{:.1f}%')} | {cell(key, 'edit_similarity', '{:.3f}')} | "
                     f"{cell(key, 'parses', '{:.0f}%')} | {cell(key, 'empty', '{}')} |")  # fmt: skip
    if empty:
        lines += ["", "fim-lsp offered nothing where the floor offered a line: "
                  + ", ".join(f"{k} {a}/{b}" for k, (a, b) in sorted(empty.items()))]  # fmt: skip
    return lines


def typing_rows(t: dict) -> list[tuple[str, str, str, str]]:
    """(metric, ours, peer, ratio) rows for one behaviour."""
    o, p = t.get("ours", {}), t.get("peer", {})

    def g(d: Any, *path: str) -> Any:
        for k in path:
            if not isinstance(d, dict):
                return None
            d = d.get(k)
        return d

    rows = []
    for q in ("p50", "p95", "max"):
        a, b = g(o, "latency_shown_s", q), g(p, "latency_shown_s", q)
        rows.append((f"{q} keystroke → shown suggestion (ms)", _ms(a), _ms(b), _ratio(a, b)))
    a, b = g(o, "latency_shown_s", "n"), g(p, "latency_shown_s", "n")
    rows.append(("suggestions shown", _num(a, "{}"), _num(b, "{}"), _ratio(a, b)))
    a, b = g(o, "latency_answered_s", "p50"), g(p, "latency_answered_s", "p50")
    rows.append(("p50 keystroke → any answer, shown or late (ms)", _ms(a), _ms(b), _ratio(a, b)))
    (sa, ra), (sb, rb) = (_pct(g(d, "pauses_with_suggestion"), g(d, "pauses")) for d in (o, p))
    rows.append(("pauses ≥ 300 ms with a suggestion in time", sa, sb, _ratio(ra, rb)))
    (sa, ra), (sb, rb) = (_pct(g(d, "first_line_match"), g(d, "shown")) for d in (o, p))
    rows.append(("shown suggestions whose first line the user then typed", sa, sb, _ratio(ra, rb)))
    a, b = g(o, "tokens", "prompt_evaluated"), g(p, "tokens", "prompt_evaluated")
    rows.append(("prompt tokens evaluated", _num(a, "{}"), _num(b, "{}"), _ratio(a, b)))
    a, b = g(o, "tokens", "prompt_reused"), g(p, "tokens", "prompt_reused")
    rows.append(
        ("prompt tokens reused from the KV cache", _num(a, "{}"), _num(b, "{}"), _ratio(a, b))
    )
    a, b = g(o, "tokens", "reuse_share"), g(p, "tokens", "reuse_share")
    rows.append(
        (
            "reused share of prompt tokens",
            _num(a and 100 * a, "{:.1f}%"),
            _num(b and 100 * b, "{:.1f}%"),
            _ratio(a, b),
        )
    )
    a, b = g(o, "tokens", "gen_tok_s"), g(p, "tokens", "gen_tok_s")
    rows.append(("generation tokens/s", _num(a), _num(b), _ratio(a, b)))
    a, b = g(o, "floor", "p50_s"), g(p, "floor", "p50_s")
    rows.append(("floor p50: llama.cpp alone for those tokens (ms)", _ms(a), _ms(b), _ratio(a, b)))
    a, b = g(o, "floor", "latency_over_floor_p50"), g(p, "floor", "latency_over_floor_p50")
    rows.append(
        (
            "p50 of latency / floor, per shown suggestion",
            _num(a, "{:.2f}"),
            _num(b, "{:.2f}"),
            _ratio(a, b),
        )
    )
    return rows


def markdown(rec: dict) -> str:
    m = rec["meta"]
    out = [f"# fim-lsp bench — {m['started']} ({'quick' if m['quick'] else 'full'})", ""]
    out += [f"- machine: {m['machine']}", f"- model: `{m['model']}` (sha256 {m.get('model_sha256', '?')[:12]}…), "
            f"{m['threads']} threads, n_ctx {m['ctx']}", f"- llama.cpp: {m.get('llama_build', '?')}",
            f"- command: `{m['command']}`", f"- wall time: {m.get('wall_s', 0) / 60:.1f} min"]  # fmt: skip
    if m.get("peer_sampling"):
        out.append(f"- llama-server's sampling: {m['peer_sampling']}")
    foreign = m.get("foreign_cpu_share")
    if foreign is not None:
        out.append(
            f"- CPU used by other processes during the run: {100 * foreign:.0f}% of the machine"
        )
        if foreign > 0.10:
            out.append(
                "- **the machine was busy with other work during this run: timings are not representative**"
            )
    out.append("")
    fl = rec.get("floor", {}).get("model")
    if fl:
        pp = ", ".join(f"pp{s} {v:.1f}" for s, v in fl["pp"])
        out += [f"- floor (llama-bench, tokens/s): {pp}; tg {fl['tg']:.1f}", ""]
    if rec.get("quality"):
        out += ["## Quality: HumanEval-infilling, one task per problem (seeded)", ""]
        out += quality_table(rec["quality"]) + [""]
        out += ["### pass@1 in every editor state (bench/tasks.py)", ""]
        out += quality_states_table(rec["quality"]) + [""]
    if rec.get("realcode"):
        out += ["## Quality: holes in real projects' files (bench/realcode.py, bench/realcode.md)", ""]
        out += realcode_table(rec["realcode"], rec.get("realcode_empty")) + [""]
        if rec.get("quality_check"):
            out += [f"Harness check: canonical solutions pass {rec['quality_check']}.", ""]
    st = rec.get("startup", {})
    if st:
        out += [
            "## Start-up and memory",
            "",
            "| metric | fim-lsp | llama-server | ours/peer |",
            "|---|---|---|---|",
        ]
        for key, label in (
            ("ready_s", "spawn → ready (s)"),
            ("cold_start_s", "spawn → first completion (s)"),
        ):
            a, b = st.get("ours", {}).get(key), st.get("peer", {}).get(key)
            out.append(f"| {label} | {_num(a, '{:.2f}')} | {_num(b, '{:.2f}')} | {_ratio(a, b)} |")
        a, b = st.get("ours", {}).get("peak_rss_bytes"), st.get("peer", {}).get("peak_rss_bytes")
        out.append(
            f"| peak RSS (MiB) | {_num(a and a / 2**20, '{:.0f}')} | {_num(b and b / 2**20, '{:.0f}')} | {_ratio(a, b)} |"
        )
        out.append("")
    for beh, t in rec.get("typing", {}).items():
        n_tr = len(rec.get("traces", []))
        out += [f"## Typing replay — {BEHAVIOUR_LABEL.get(beh, beh)}, {n_tr} trace(s)", "",
                "| metric | fim-lsp | llama-server | ours / llama-server |", "|---|---|---|---|"]  # fmt: skip
        out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in typing_rows(t)]
        out.append("")
    if rec.get("traces"):
        out += ["Traces: " + "; ".join(f"{t['name']} ({t['body_chars']} chars, {t['keystrokes']} keys, "
                f"{t['duration_s']:.0f} s)" for t in rec["traces"]), ""]  # fmt: skip
    if rec.get("cold"):
        c = rec["cold"]
        out += ["## The first suggestion: newly opened files and after a restart (bench/cold.py)", "",
                f"didOpen → first request: {c['meta']['gap_ms']} ms; files: {', '.join(c['meta']['files'])}.", "",
                c["table"], ""]  # fmt: skip
    if rec.get("notes"):
        out += ["## Notes", ""] + [f"- {n}" for n in rec["notes"]] + [""]
    return "\n".join(out)


def plot(rec: dict, path: Path) -> bool:
    """Share of requests answered within x ms of their keystroke, ours and the peer's."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    behs = list(rec.get("typing", {}))
    if not behs:
        return False
    fig, axes = plt.subplots(1, len(behs), figsize=(6 * len(behs), 4.2), squeeze=False)
    colors = {"ours": "tab:blue", "peer": "tab:orange"}
    every = [
        x * 1000
        for t in rec["typing"].values()
        for d in t.values()
        for x in d.get("latencies_answered_s", [])
    ]
    right = max([5000.0, *every]) * 1.3
    for ax, beh in zip(axes[0], behs, strict=False):
        t = rec["typing"][beh]
        for sys_ in SYSTEMS:
            d = t.get(sys_, {})
            xs = sorted(x * 1000 for x in d.get("latencies_answered_s", []))
            n_req = max(d.get("requests", 0), len(xs))
            shown = d.get("latency_shown_s", {}).get("n", 0)
            if xs:
                # Share of all requests answered within x: cancelled ones never get there.
                ys = [(i + 1) / n_req for i in range(len(xs))]
                ax.step([xs[0], *xs, right], [0.0, *ys, ys[-1]], where="post", color=colors[sys_],
                        label=f"{LABEL[sys_]}: {len(xs)}/{n_req} answered, {shown} shown")  # fmt: skip
            else:
                ax.plot([], [], color=colors[sys_], label=f"{LABEL[sys_]}: 0/{n_req} answered")
            fl = d.get("floor", {}).get("p50_s")
            if fl:
                ax.axvline(fl * 1000, color=colors[sys_], ls=":", lw=1)
        ax.axvline(300, color="grey", ls="--", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlim(3, right)
        ax.set_xlabel("keystroke → suggestion (ms, log); dashed: 300 ms, dotted: floor p50")
        ax.set_ylabel("share of requests answered within x")
        ax.set_ylim(0, 1.02)
        ax.set_title(BEHAVIOUR_LABEL.get(beh, beh), fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(
        f"fim-lsp vs llama-server — {rec['meta']['started']} ({rec['meta']['machine']})", fontsize=9
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
