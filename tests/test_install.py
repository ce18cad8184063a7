"""scripts/install.sh, the install path the READMEs give users (issue 12: `pip install fim-lsp`
named a package that does not exist): a wheel built from this checkout, installed into a fresh
environment of its own with llama-cpp-python bound to the cached llama.cpp build, and the
`fim-lsp` it links answering for real, away from the checkout. About a minute when llama.cpp
and the model are cached (make setup); pip fetches the other dependencies from its index.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts/install.sh"

pytestmark = pytest.mark.model


@dataclass
class Install:
    root: Path
    env: dict[str, str]
    output: str

    @property
    def link(self) -> Path:
        return self.root / "bin/fim-lsp"

    @property
    def venv(self) -> Path:
        return self.root / "data/venv"

    def run(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        # From a folder outside the checkout, so nothing can import lsp_server from it.
        return subprocess.run(
            [*args], cwd=self.root, env=self.env, capture_output=True, text=True, timeout=timeout
        )


def _dist_state() -> dict[str, float]:
    dist = REPO / "dist"
    return {p.name: p.stat().st_mtime for p in dist.iterdir()} if dist.is_dir() else {}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Install:
    root = tmp_path_factory.mktemp("install")
    dist_before = _dist_state()
    env = {
        **os.environ,
        "FIM_LSP_HOME": str(root / "data"),
        "FIM_LSP_BIN": str(root / "bin"),
    }
    env.pop("VIRTUAL_ENV", None)
    run = subprocess.run(
        [str(SCRIPT)], cwd=root, env=env, capture_output=True, text=True, timeout=600
    )
    print(run.stdout, run.stderr)
    assert run.returncode == 0, run.stderr
    # The wheel is built in a folder of its own: the checkout's dist/ is left as it was (issue 24).
    assert _dist_state() == dist_before
    return Install(root, env, run.stderr)


def test_the_wheel_holds_the_package_and_its_command(installed: Install) -> None:
    # What the wheel held, as the install recorded it (RECORD lists every file it unpacked).
    site = next((installed.venv / "lib").glob("python3*/site-packages"))
    info = next(site.glob("fim_lsp-*.dist-info"))
    names = {line.split(",", 1)[0] for line in (info / "RECORD").read_text().splitlines()}
    assert "fim-lsp = lsp_server.cli:main" in (info / "entry_points.txt").read_text()
    sources = {
        p.relative_to(REPO).as_posix()
        for p in (REPO / "lsp_server").rglob("*")
        if p.suffix in (".py", ".typed") and "__pycache__" not in p.parts
    }
    assert sources - names == set(), "modules left out of the wheel"
    assert not [n for n in names if n.startswith(("tests/", "bench/", "editor-clients/"))]


def test_fim_lsp_is_linked_from_its_own_environment(installed: Install) -> None:
    assert installed.link.is_symlink()
    assert installed.link.resolve() == (installed.venv / "bin/fim-lsp").resolve()
    assert f"{installed.root / 'bin'} is not on your PATH" in installed.output


def test_doctor_loads_the_model_with_the_cached_llama_cpp(installed: Install) -> None:
    run = installed.run(str(installed.link), "doctor")
    print(run.stdout, run.stderr)
    assert run.returncode == 0, run.stdout + run.stderr
    bindings = re.search(r"^llama-cpp-python\s+(\S+) \((.+)\)$", run.stdout, re.M)
    assert bindings, run.stdout
    assert bindings.group(1) == "0.3.36"
    assert bindings.group(2).startswith(str(installed.venv)), "bindings from the new environment"
    assert re.search(r"^model load\s+ok in", run.stdout, re.M), run.stdout
    assert re.search(r"^FIM format\s+qwen$", run.stdout, re.M), run.stdout
    # The library the bindings load is the cached build, copied in: no pip build of llama.cpp.
    libs = {p.name for p in (Path(bindings.group(2)).parent / "lib").glob("libllama.so*")}
    assert libs, "libllama copied into the bindings"


def test_the_installed_command_completes_the_demo(installed: Install) -> None:
    run = installed.run(
        str(installed.link), "complete", str(REPO / "examples/stats.py"), "--line", "12", "--col", "5"
    )
    print(run.stdout, run.stderr)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "FIM format qwen" in run.stderr and "--- suggestion at" in run.stderr, run.stderr
    # The default (model: auto) is a preset picked for the user: no warning to act on.
    assert " WARNING " not in run.stderr, run.stderr
    body = run.stdout.strip()  # the suggestion alone is on stdout
    assert body, run.stderr
    assert re.search(r"\b(values|m)\b", body), body
    # One request, no next one: the whole file (125 tokens) is the prompt, not a cold-start
    # window's smaller one (78 tokens before this was fixed).
    prompt = re.search(r"completion: [\d.]+s \((\d+) prompt tokens", run.stderr)
    assert prompt and int(prompt.group(1)) > 100, run.stderr


def test_a_second_run_updates_in_place(installed: Install, tmp_path: Path) -> None:
    built = installed.run(str(installed.venv / "bin/python"), "-m", "pip", "wheel", "--no-deps", "-q",
                          "-w", str(tmp_path), str(REPO), timeout=300)
    assert built.returncode == 0, built.stderr
    wheel = next(tmp_path.glob("fim_lsp-*.whl"))
    run = installed.run(str(SCRIPT), "--wheel", str(wheel), "--no-model", timeout=300)
    print(run.stderr)
    assert run.returncode == 0, run.stderr
    assert "creating" not in run.stderr and "bindings" not in run.stderr, "reuses what is there"
    assert "building the fim-lsp wheel" not in run.stderr
    assert installed.run(str(installed.link), "model", "list").returncode == 0
