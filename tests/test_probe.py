"""The speed probe behind ``model: auto`` (engine/probe.py) on the real test model: it measures,
keeps the figures in the cache directory, and a second call reads them instead of measuring."""

from __future__ import annotations

from pathlib import Path

import pytest

from lsp_server import models
from lsp_server.engine import probe

pytestmark = pytest.mark.model

TEST_MODEL = "qwen2.5-coder-0.5b-offline"


def test_the_probe_measures_once_and_keeps_the_figures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = models.local_path(TEST_MODEL)
    if model is None:
        pytest.fail(f"test model missing: run `fim-lsp model pull {TEST_MODEL}`")
    monkeypatch.setenv("FIM_LSP_CACHE", str(tmp_path))
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / model.name).symlink_to(model)
    said: list[str] = []
    speeds = probe.machine_speeds(2, lambda message, _pct: said.append(message))
    assert set(speeds) == {"0.5B"} and len(said) == 1  # the 1.5B is not in this cache: not probed
    speed = speeds["0.5B"]
    assert speed.prompt_tps > speed.gen_tps > 0  # a batch of prompt tokens beats one token at a time
    assert models.known_speed(tmp_path / "models" / model.name, 2) == speed

    def no_second_probe(_path: Path, _threads: int) -> models.Speed:
        raise AssertionError("measured again")

    monkeypatch.setattr(probe, "measure", no_second_probe)
    assert probe.machine_speeds(2) == speeds
    assert models.known_speeds(2) == {"0.5B": speed}  # what `model: auto` reads at the next start
