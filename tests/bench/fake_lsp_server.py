"""A stand-in for fim-lsp speaking the same protocol, for testing the bench's client."""

import asyncio

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer

server = LanguageServer("fake-fim-lsp", "0")
state = {"requests": 0, "cancelled": 0, "completed": 0}


@server.feature(lsp.TEXT_DOCUMENT_INLINE_COMPLETION)
async def inline(ls: LanguageServer, params: lsp.InlineCompletionParams):
    state["requests"] += 1
    doc = ls.workspace.get_text_document(params.text_document.uri)
    if "slow" in doc.source:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            state["cancelled"] += 1
            raise
    state["completed"] += 1
    line = doc.lines[params.position.line]
    start = lsp.Position(params.position.line, 0)
    # Replace the whole line prefix, as a server may do.
    text = line[: params.position.character] + "pass"
    return lsp.InlineCompletionList(
        items=[lsp.InlineCompletionItem(insert_text=text, range=lsp.Range(start, params.position))]
    )


@server.feature("fimLsp/stats")
def stats(ls: LanguageServer, params=None):
    return {
        "requests": state["requests"],
        "cancelled": state["cancelled"],
        "completed": state["completed"],
        "nPrompt": 10,
        "nReused": 4,
        "last": {"nPrompt": 10, "nReused": 4, "nGenerated": 2},
    }


if __name__ == "__main__":
    server.start_io()
