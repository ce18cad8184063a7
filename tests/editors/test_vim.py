"""The completion-menu fallback in real Vim + ALE, headless.

Debian's vim (9.0) and vim-ale (3.3), ALE being the LSP client Debian packages for Vim (issue 12
was found with vim-lsp, which has the same two traits): omnifunc completion (<C-x><C-o>) against
the real fim-lsp and model. Vim drops items whose word does not start with the typed word, and
writes a line break in a completion word into the file as a NUL byte.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from editor_harness import MENU_MODEL, MULTI_LINE, TYPED_WORD, fim_lsp_server, missing, run_isolated

DRIVER = Path(__file__).parent / "clients/ale_e2e.vim"
ALE = Path("/usr/share/vim-ale/plugin/ale.vim")


def _vim_with_ale(tmp_path: Path, cases: list[dict], server_args: str = "") -> None:
    """Run the driver's ``cases`` in headless Vim + ALE against fim-lsp (skipped where either
    is missing); its JSON lines go to ``tmp_path/out.jsonl``."""
    vim = shutil.which("vim")
    if vim is None or not ALE.is_file():
        missing("Vim and ALE are not installed (Debian: vim vim-ale)")
    server = fim_lsp_server()
    if server is None:
        missing("the fim-lsp command is not installed (pip install -e .)")
    assert vim is not None
    run = run_isolated(
        [vim, "-N", "-u", "NONE", "-i", "NONE", "-n", "-es", "-S", str(DRIVER)], cwd=tmp_path, timeout=600,
        env={"FIM_LSP_SERVER": f"{server} {server_args}--model {MENU_MODEL}", "FIM_LSP_E2E_DIR": str(tmp_path),
             "FIM_LSP_E2E_CASES": json.dumps(cases), "FIM_LSP_E2E_OUT": str(tmp_path / "out.jsonl"),
             "HOME": str(tmp_path)},
    )
    print(run.output)
    assert run.returncode == 0, run.output
    assert not run.leaked, f"processes left behind: {run.leaked}"


@pytest.mark.model
def test_ale_completes_a_typed_word_and_a_multi_line_suggestion(tmp_path: Path) -> None:
    (tmp_path / "strip.py").write_text(TYPED_WORD)
    (tmp_path / "total.py").write_text(MULTI_LINE)
    _vim_with_ale(tmp_path, [{"file": "strip.py", "line": 6}, {"file": "total.py", "line": 3}])
    results = {r["file"]: r for r in map(json.loads, (tmp_path / "out.jsonl").read_text().splitlines())}
    print(results)

    total = results["total.py"]["lines"]
    assert not any("\n" in line or "\0" in line for line in total), total  # "\n": a NUL in Vim
    assert total[2].startswith("    for ") and total[2].strip() != "for", total[2]
    assert total[:2] + total[3:] == MULTI_LINE.split("\n")[:2] + MULTI_LINE.split("\n")[3:-1]

    strip = results["strip.py"]["lines"]
    assert strip[5].startswith("    if preprocessor"), strip[5]  # before: the item was dropped
    assert strip[:5] + strip[6:] == TYPED_WORD.split("\n")[:5] + TYPED_WORD.split("\n")[6:-1]


@pytest.mark.model
def test_a_resting_cursor_in_ale_warms_the_prompt_there(tmp_path: Path) -> None:
    """ALE asks for the hover where the cursor rests (CursorHold, `g:ale_hover_cursor`, on by
    default); the server takes that as a cursor report and evaluates the prompt there: in its
    log, the hover, the cursor taken as resting on that line, then a warm run for the file."""
    (tmp_path / "total.py").write_text(MULTI_LINE)
    (tmp_path / "rest.py").write_text(TYPED_WORD)
    log = tmp_path / "fim-lsp.log"
    _vim_with_ale(tmp_path, [{"file": "total.py", "line": 3}, {"file": "rest.py", "line": 6, "rest": True}],
                  f"-v --log-file {log} ")
    text = log.read_text()
    hover = text.find("'textDocument/hover' received")
    assert hover >= 0, "ALE sent no hover"
    rests = text.find("rest.py at 5:0", hover)  # 0-based: the sixth line
    assert rests >= 0, "the hover was not taken as the cursor resting there"
    assert re.search(r"run file://\S*rest\.py#prefetch: warm", text[rests:]), "nothing warmed after it"
