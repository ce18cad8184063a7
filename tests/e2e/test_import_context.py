"""importContextTokens through the real server and model, at its default: a long file's import
lines reach a prompt whose window starts far below them, and typing below keeps them cached."""

from __future__ import annotations

import pytest
from lsp_helpers import invoked_run
from lsprotocol import types
from pytest_lsp import LanguageClient

pytestmark = pytest.mark.model


IMPORTS = "import statistics\nfrom collections import Counter, defaultdict\nfrom .shapes import Circle, Square\n"
# The same lines as comments: not imports, so no header; the window below is the same.
COMMENTED = "".join("# " + line + "\n" for line in IMPORTS.splitlines())
BODY = "\n\ndef report(shapes):\n" + "".join(f"    total_{i} = sum(s.area for s in shapes[{i}:])\n" for i in range(60))


async def _ask(client: LanguageClient, uri: str, text: str, version: int = 1) -> dict[str, int]:
    """An Invoked inline completion at the end of ``text``; the server's counts for it."""
    if version == 1:
        client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "python", 1, text)))
    else:
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(version=version, uri=uri),
            [types.TextDocumentContentChangeWholeDocument(text)]))  # fmt: skip
    lines = text.split("\n")
    last = await invoked_run(client, uri, types.Position(len(lines) - 1, len(lines[-1])))
    return {"prompt": int(last["nPrompt"]), "reused": int(last["nReused"])}


async def test_import_lines_reach_the_prompt_and_stay_cached_while_typing(quiet_client: LanguageClient) -> None:
    client = quiet_client
    text = IMPORTS + BODY + "    "
    without = await _ask(client, "file:///work/demo/commented.py", COMMENTED + BODY + "    ")
    first = await _ask(client, "file:///work/demo/report.py", text)
    # Three import statements, about 20 tokens, on top of the same window.
    assert first["prompt"] - without["prompt"] >= 15, (first, without)
    typed = await _ask(client, "file:///work/demo/report.py", text + "grand = total_0 + tot", version=2)
    assert typed["reused"] >= first["prompt"] - 4, (first, typed)  # only the typed tail is new
