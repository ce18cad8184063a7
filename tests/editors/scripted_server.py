#!/usr/bin/env python3
"""A stand-in for fim-lsp that answers textDocument/inlineCompletion with fixed items.

The real-editor suites use it where a test is about how the editor shows and applies a given
item (a dedent, a line opened above code), which the real model produces only sometimes.
Standard library only, so that any python3 runs it.

    scripted_server.py --script rules.json   (or FIM_LSP_SCRIPT=rules.json)

rules.json is a list of rules; the first whose regexes match the cursor line answers:

    [{"before": "^ {8}$", "after": "^$",
      "items": [{"insertText": "return result", "replace": 4}]}]

`before` and `after` are matched (re.search) against the cursor line's text before and after
the cursor; an item replaces `replace` characters before the cursor and `end` after it.
Other arguments (-v, --log-file PATH) are accepted and ignored, as fim-lsp's are.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any


def read_message(stream: Any) -> dict[str, Any] | None:
    length = 0
    while True:
        line = stream.readline()
        if not line:
            return None
        line = line.strip()
        if not line:
            break
        name, _, value = line.decode("ascii").partition(":")
        if name.lower() == "content-length":
            length = int(value)
    return json.loads(stream.read(length))


def write_message(stream: Any, message: dict[str, Any]) -> None:
    body = json.dumps({"jsonrpc": "2.0", **message}).encode()
    stream.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    stream.flush()


def answer(
    rules: list[dict[str, Any]], text: str, line: int, character: int
) -> list[dict[str, Any]]:
    # Positions are UTF-16 in LSP; the test buffers are ASCII, where they are plain indices.
    lines = text.split("\n")
    current = lines[line] if line < len(lines) else ""
    before, after = current[:character], current[character:]
    for rule in rules:
        if re.search(rule.get("before", ""), before) and re.search(rule.get("after", ""), after):
            return [
                {
                    "insertText": item["insertText"],
                    "range": {
                        "start": {"line": line, "character": character - item.get("replace", 0)},
                        "end": {"line": line, "character": character + item.get("end", 0)},
                    },
                }
                for item in rule["items"]
            ]
    return []


def main(argv: list[str]) -> int:
    script = os.environ.get("FIM_LSP_SCRIPT")
    if "--script" in argv:
        script = argv[argv.index("--script") + 1]
    if not script:
        print("scripted_server: give --script rules.json or FIM_LSP_SCRIPT", file=sys.stderr)
        return 2
    with open(script, encoding="utf-8") as f:
        rules = json.load(f)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    texts: dict[str, str] = {}
    while (msg := read_message(stdin)) is not None:
        method, params = msg.get("method"), msg.get("params") or {}
        result: Any = None
        if method == "initialize":
            result = {
                "capabilities": {"textDocumentSync": 1, "inlineCompletionProvider": True},
                "serverInfo": {"name": "fim-lsp (scripted)"},
            }
        elif method == "initialized":
            status = {"state": "ready", "message": "", "model": "scripted"}
            write_message(stdout, {"method": "fimLsp/status", "params": status})
        elif method == "textDocument/didOpen":
            texts[params["textDocument"]["uri"]] = params["textDocument"]["text"]
        elif method == "textDocument/didChange":
            for change in params["contentChanges"]:
                texts[params["textDocument"]["uri"]] = change["text"]
        elif method == "textDocument/inlineCompletion":
            pos = params["position"]
            text = texts.get(params["textDocument"]["uri"], "")
            result = {"items": answer(rules, text, pos["line"], pos["character"])}
        elif method == "exit":
            return 0
        if "id" in msg and "method" in msg:
            write_message(stdout, {"id": msg["id"], "result": result})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
