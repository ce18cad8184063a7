"""repoContext through the real server and model: the definition a file imports from another
module of its workspace folder reaches the prompt, read from disk (that module is not open)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsp_helpers import invoked_run
from lsprotocol import types
from pytest_lsp import LanguageClient

pytestmark = pytest.mark.model

REPORT = """from .{module} import area_of_circle


def report(r):
    line = f"r={{r}}"
    {cursor}
"""


async def _prompt_tokens(client: LanguageClient, workspace: Path, module: str) -> int:
    """Ask at the blank line of a report.py that imports from ``module``; the prompt's size."""
    path = workspace / "shapes" / f"report_{module}.py"
    text = REPORT.format(module=module, cursor="")
    path.write_text(text)
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        types.TextDocumentItem(path.as_uri(), "python", 1, text)))  # fmt: skip
    line = text.splitlines().index("    ")
    return int((await invoked_run(client, path.as_uri(), types.Position(line, 4)))["nPrompt"])


async def test_the_imported_definition_reaches_the_prompt(repo_client: LanguageClient, repo_workspace: Path) -> None:
    found = await _prompt_tokens(repo_client, repo_workspace, "geometry")
    missing = await _prompt_tokens(repo_client, repo_workspace, "nowhere")  # the same file, nothing to find
    # The stub (signature, docstring line, "...") and its file header: about 40 tokens.
    assert found - missing >= 30, (found, missing)
