"""The floor: what llama.cpp alone needs for a given number of prompt and generated tokens.

Measured with llama-bench on this machine (same model, same threads), then interpolated:
``floor(n_eval, n_gen) = pp_time(n_eval) + n_gen / tg_speed``, where ``pp_time`` is piecewise
linear through the measured batch sizes (and one token costs one generation step).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class FloorModel:
    pp: tuple[tuple[int, float], ...]  # (batch size, tokens/s), ascending
    tg: float  # tokens/s generating

    def pp_time(self, n: float) -> float:
        if n <= 0:
            return 0.0
        pts = [(0, 0.0), (1, 1.0 / self.tg)] + [(s, s / v) for s, v in self.pp if s > 1]
        for (x0, y0), (x1, y1) in zip(pts, pts[1:], strict=False):
            if n <= x1:
                return y0 + (y1 - y0) * (n - x0) / (x1 - x0)
        s, v = self.pp[-1]
        return n / v

    def time(self, n_eval: float, n_gen: float) -> float:
        return self.pp_time(n_eval) + n_gen / self.tg

    def as_dict(self) -> dict:
        return asdict(self)


def parse_llama_bench(rows: list[dict]) -> FloorModel:
    pp = sorted((int(r["n_prompt"]), float(r["avg_ts"])) for r in rows if int(r["n_gen"]) == 0)
    tg = [float(r["avg_ts"]) for r in rows if int(r["n_prompt"]) == 0 and int(r["n_gen"]) > 0]
    if not pp or not tg:
        raise ValueError("llama-bench output lacks pp or tg rows")
    return FloorModel(tuple(pp), tg[0])


def measure(
    llama_bench: Path, model: Path, *, threads: int, sizes: tuple[int, ...], n_gen: int, reps: int
) -> tuple[FloorModel, list[dict]]:
    argv = [str(llama_bench), "-m", str(model), "-t", str(threads), "-p", ",".join(map(str, sizes)),
            "-n", str(n_gen), "-r", str(reps), "-o", "json"]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=900, start_new_session=True)
    if proc.returncode != 0:
        raise RuntimeError(f"llama-bench failed ({proc.returncode}): {proc.stderr[-500:]}")
    rows = json.loads(proc.stdout)
    return parse_llama_bench(rows), rows
