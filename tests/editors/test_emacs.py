"""The completion-menu fallback in real Emacs + eglot, headless.

Debian's emacs-nox (Emacs 28) and elpa-eglot (eglot 1.9), as in issue 12; `completion-at-point`
(C-M-i) with the README's eglot setup, against the real fim-lsp and model. eglot 1.9 deletes
the inserted label minus the typed word and then applies the item's textEdit, so an edit that
starts at the cursor got the typed word twice (`if pre` -> `if proprocessor`).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from editor_harness import MENU_MODEL, MULTI_LINE, TYPED_WORD, fim_lsp_server, missing, run_isolated

DRIVER = Path(__file__).parent / "clients/eglot_e2e.el"
@pytest.fixture(scope="module")
def emacs() -> str:
    path = shutil.which("emacs")
    if path is None:
        missing("Emacs is not installed (Debian: emacs-nox elpa-eglot)")
    assert path is not None
    probe = subprocess.run([path, "--batch", "--eval", "(progn (require 'package) (package-initialize) (require 'eglot))"],
                           capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        missing("eglot is not available to Emacs (Debian: elpa-eglot; built in from Emacs 29)")
    return path


@pytest.mark.model
def test_eglot_accepts_the_menu_item(emacs: str, tmp_path: Path) -> None:
    server = fim_lsp_server()
    if server is None:
        missing("the fim-lsp command is not installed (pip install -e .)")
    (tmp_path / "strip.py").write_text(TYPED_WORD)
    (tmp_path / "total.py").write_text(MULTI_LINE)
    cases = [{"file": "strip.py", "line": 6, "col": 11}, {"file": "total.py", "line": 3, "col": 9}]
    run = run_isolated(
        [emacs, "--batch", "-l", str(DRIVER)], cwd=tmp_path, timeout=600,
        env={"FIM_LSP_SERVER": f"{server} --model {MENU_MODEL}", "FIM_LSP_E2E_DIR": str(tmp_path),
             "FIM_LSP_E2E_CASES": json.dumps(cases), "HOME": str(tmp_path)},
    )
    print(run.output)
    assert run.returncode == 0, run.output
    results = {r["file"]: r for r in (json.loads(m) for m in re.findall(r"^RESULT (.*)$", run.output, re.M))}
    assert not run.leaked, f"processes left behind: {run.leaked}"

    strip = results["strip.py"]["text"].split("\n")
    assert strip[5].startswith("    if preprocessor"), strip[5]  # `if proprocessor` before
    assert strip[:5] + strip[6:] == TYPED_WORD.split("\n")[:5] + TYPED_WORD.split("\n")[6:]

    # A multi-line suggestion: eglot 1.9 sends no clientInfo and, without yasnippet, declares
    # no snippet support, so it gets the first line.
    total = results["total.py"]["text"].split("\n")
    assert total[2].startswith("    for ") and total[2].strip() != "for", total[2]
    assert total[:2] + total[3:] == MULTI_LINE.split("\n")[:2] + MULTI_LINE.split("\n")[3:]
    assert "\0" not in results["total.py"]["text"]


@pytest.mark.model
def test_a_resting_cursor_in_eglot_warms_the_prompt_there(emacs: str, tmp_path: Path) -> None:
    """eglot asks for the hover (and, piggybacked, the highlights) where the cursor rests; the
    server takes that as a cursor report and evaluates the prompt there (the prewarm count goes
    up after the file's own), with no plugin of ours in Emacs."""
    server = fim_lsp_server()
    if server is None:
        missing("the fim-lsp command is not installed (pip install -e .)")
    (tmp_path / "total.py").write_text(MULTI_LINE)
    run = run_isolated(
        [emacs, "--batch", "-l", str(DRIVER)], cwd=tmp_path, timeout=600,
        env={"FIM_LSP_SERVER": f"{server} --model {MENU_MODEL}", "FIM_LSP_E2E_DIR": str(tmp_path),
             "FIM_LSP_E2E_CASES": json.dumps([{"file": "total.py", "line": 3, "col": 9, "rest": True}]),
             "HOME": str(tmp_path)},
    )
    print(run.output)
    assert run.returncode == 0, run.output
    rest = json.loads(re.findall(r"^RESULT (.*)$", run.output, re.M)[-1])
    assert rest["rest"] is True and rest["after"] > rest["before"], rest
    assert not run.leaked, f"processes left behind: {run.leaked}"
