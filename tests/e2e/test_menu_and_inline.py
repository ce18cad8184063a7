"""A completion-menu request and an inline request at the same state (issue 24: Neovim's
<C-x><C-o> came back empty after 8-12 s while the ghost text's request a second later had the
suggestion). Both ran the model for the same document; the worker keeps one job per document,
so the later request cancelled the earlier one's run and the menu got nothing. One state gets
one run, shared by both requests (CompletionService._generate)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from lsp_helpers import receive_frame, send_frame

pytestmark = pytest.mark.model
MODEL = "qwen2.5-coder-0.5b-offline"
TEXT = "def tokenize(text):\n    words = []\n    for w in text.split():\n        words.append(w.lower())\n        \n"


def test_a_menu_request_followed_by_an_inline_one_at_the_same_state_both_get_the_suggestion() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "lsp_server", "--model", MODEL],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        init = {"capabilities": {}, "clientInfo": {"name": "Neovim"}, "initializationOptions": {"timeBudgetMs": 60000}}
        send_frame(proc.stdin, {"id": 1, "method": "initialize", "params": init})
        send_frame(proc.stdin, {"method": "initialized", "params": {}})
        while not ((m := receive_frame(proc.stdout)).get("method") == "fimLsp/status" and m["params"]["state"] == "ready"):
            assert m.get("params", {}).get("state") != "error", m
        uri, pos = "file:///tmp/race.py", {"line": 4, "character": 8}
        doc = {"uri": uri, "languageId": "python", "version": 1, "text": TEXT}
        send_frame(proc.stdin, {"method": "textDocument/didOpen", "params": {"textDocument": doc}})
        send_frame(proc.stdin, {"id": 10, "method": "textDocument/completion",
                          "params": {"textDocument": {"uri": uri}, "position": pos}})
        send_frame(proc.stdin, {"id": 11, "method": "textDocument/inlineCompletion",
                          "params": {"textDocument": {"uri": uri}, "position": pos, "context": {"triggerKind": 2}}})
        got: dict[int, Any] = {}
        while len(got) < 2:
            m = receive_frame(proc.stdout)
            if m.get("id") in (10, 11):
                got[m["id"]] = m["result"]
        assert got[11]["items"], "the inline request gets the suggestion"
        assert got[10]["items"], "the menu request at the same state gets it too"
        inline, menu = got[11]["items"][0]["insertText"], got[10]["items"][0]["textEdit"]["newText"]
        assert inline.strip() and inline.strip() in menu, (inline, menu)  # one suggestion, two shapes
    finally:
        proc.kill()
        proc.wait(30)
