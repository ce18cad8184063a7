#!/usr/bin/env python3
"""A stand-in for fim-lsp that answers textDocument/inlineCompletion with fixed items.

The real-editor suites use it where a test is about how the editor shows and applies a given
item (a dedent, a line opened above code), which the real model produces only sometimes.
Standard library only, so that any python3 runs it.

    scripted_server.py --script rules.json   (or FIM_LSP_SCRIPT=rules.json)

rules.json is a list of rules; for each request, the first rule that gives what is asked for
and whose regexes match the cursor line answers:

    [{"before": "^ {8}$", "after": "^$",
      "items": [{"insertText": "return result", "replace": 4}]},
     {"before": "^    if pre$", "menu": [{"text": "processor is None:"}]}]

`before` and `after` are matched (re.search) against the cursor line's text before and after
the cursor. `items` answer inlineCompletion: each replaces `replace` characters before the
cursor and `end` after it. `menu` answers textDocument/completion (offered only when a rule has
one): each suggestion, inserted at the cursor after replacing `replace` characters before it,
is shaped by lsp_server/items.py (itself standard library only) for the connected client, as
fim-lsp shapes its own; completion_item mirrors features.completion.completion_item, and
tests/editors/test_menu_plugins.py checks that they agree.

`edits` answers fimLsp/inlineEdit (and textDocument/copilotInlineEdit) for a document at the
version the request names, in fim-lsp's shape; each is `{"start": [line, character], "end":
[line, character], "text": ...}`. `delay` (seconds) holds that answer back, so that a client
test can change the buffer meanwhile (a stale answer). A request for an older version gets no
edits, as from fim-lsp.

Each `fimLsp/cursor` notification (where the client reports the cursor resting) is kept;
the request `scripted/cursors` answers them all, oldest first, for a client test to check.

`--shutdown-delay S` answers `shutdown` after S seconds, as fim-lsp does while its engine
finishes a model load. Other arguments (-v, --log-file PATH) are accepted and ignored, as
fim-lsp's are.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


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


def matching_rule(
    rules: list[dict[str, Any]], key: str, text: str, line: int, character: int
) -> tuple[dict[str, Any] | None, str]:
    """The first rule giving `key` that matches the cursor line, and the line before the cursor."""
    # Positions are UTF-16 in LSP; the test buffers are ASCII, where they are plain indices.
    lines = text.split("\n")
    current = lines[line] if line < len(lines) else ""
    before, after = current[:character], current[character:]
    for rule in rules:
        if key in rule and re.search(rule.get("before", ""), before) and re.search(rule.get("after", ""), after):
            return rule, before
    return None, before


def answer(
    rules: list[dict[str, Any]], text: str, line: int, character: int
) -> list[dict[str, Any]]:
    rule, _ = matching_rule(rules, "items", text, line, character)
    return [
        {
            "insertText": item["insertText"],
            "range": {
                "start": {"line": line, "character": character - item.get("replace", 0)},
                "end": {"line": line, "character": character + item.get("end", 0)},
            },
        }
        for item in (rule["items"] if rule else [])
    ]


def edits_answer(
    rules: list[dict[str, Any]], uri: str, version: int | None, text: str, line: int, character: int
) -> dict[str, Any]:
    """fimLsp/inlineEdit's result: the first `edits` rule matching the cursor line."""
    rule, _ = matching_rule(rules, "edits", text, line, character)
    if rule is None:
        return {"edits": []}
    time.sleep(rule.get("delay", 0))
    doc = {"uri": uri, "version": version}
    return {
        "edits": [
            {
                "text": e["text"],
                "textDocument": doc,
                "range": {
                    "start": {"line": e["start"][0], "character": e["start"][1]},
                    "end": {"line": e["end"][0], "character": e["end"][1]},
                },
            }
            for e in rule["edits"]
        ]
    }


def client_traits(params: dict[str, Any]) -> dict[str, Any]:
    """What fim-lsp reads from `initialize` to shape menu items."""
    caps = params.get("capabilities") or {}
    item = ((caps.get("textDocument") or {}).get("completion") or {}).get("completionItem") or {}
    return {
        "name": (params.get("clientInfo") or {}).get("name"),
        "snippets": item.get("snippetSupport"),
        "markdown": "markdown" in (item.get("documentationFormat") or []),
    }


def completion_item(item: Any, line: int, character: int, text: str, markdown: bool) -> dict[str, Any]:
    """features.completion.completion_item as JSON, for an items.MenuItem (ASCII: index == column)."""
    out: dict[str, Any] = {
        "label": item.label,
        "kind": 15,  # Snippet
        "detail": "fim-lsp",
        "documentation": {"kind": "markdown", "value": f"```\n{text}\n```"} if markdown else text,
        "textEdit": {
            "range": {
                "start": {"line": line, "character": item.start},
                "end": {"line": line, "character": character},
            },
            "newText": item.new_text,
        },
        "insertTextFormat": 2 if item.snippet else 1,
        "sortText": "0",
        "filterText": item.filter_text,
    }
    if item.multiline or item.snippet:
        out["insertTextMode"] = 1 if item.multiline else 2  # AsIs, AdjustIndentation
    return out


def lsp_items() -> Any:
    """lsp_server/items.py, pure and standard library only; imported only by menu rules."""
    sys.path.insert(0, str(REPO))
    from lsp_server import items

    return items


def menu_answer(
    rules: list[dict[str, Any]], text: str, line: int, character: int, client: dict[str, Any]
) -> dict[str, Any]:
    items = lsp_items()
    rule, before = matching_rule(rules, "menu", text, line, character)
    caps = items.menu_caps(client.get("name"), client.get("snippets"))
    out = []
    for s in rule["menu"] if rule else []:
        item = items.menu_item(s["text"], before, caps, s.get("replace", 0))
        if item is not None:
            out.append(completion_item(item, line, character, s["text"], client.get("markdown", False)))
    return {"isIncomplete": True, "items": out}


def main(argv: list[str]) -> int:
    script = os.environ.get("FIM_LSP_SCRIPT")
    if "--script" in argv:
        script = argv[argv.index("--script") + 1]
    if not script:
        print("scripted_server: give --script rules.json or FIM_LSP_SCRIPT", file=sys.stderr)
        return 2
    shutdown_delay = float(argv[argv.index("--shutdown-delay") + 1]) if "--shutdown-delay" in argv else 0.0
    with open(script, encoding="utf-8") as f:
        rules = json.load(f)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    texts: dict[str, str] = {}
    versions: dict[str, int | None] = {}
    client: dict[str, Any] = {}
    cursors: list[Any] = []
    while (msg := read_message(stdin)) is not None:
        method, params = msg.get("method"), msg.get("params") or {}
        result: Any = None
        if method == "initialize":
            client = client_traits(params)
            capabilities: dict[str, Any] = {"textDocumentSync": 1, "inlineCompletionProvider": True}
            if any("menu" in rule for rule in rules):
                triggers = list(lsp_items().TRIGGER_CHARACTERS)
                capabilities["completionProvider"] = {"triggerCharacters": triggers}
            result = {"capabilities": capabilities, "serverInfo": {"name": "fim-lsp (scripted)"}}
        elif method == "initialized":
            status = {"state": "ready", "message": "", "model": "scripted"}
            write_message(stdout, {"method": "fimLsp/status", "params": status})
        elif method == "textDocument/didOpen":
            texts[params["textDocument"]["uri"]] = params["textDocument"]["text"]
            versions[params["textDocument"]["uri"]] = params["textDocument"].get("version")
        elif method == "textDocument/didChange":
            for change in params["contentChanges"]:
                texts[params["textDocument"]["uri"]] = change["text"]
            versions[params["textDocument"]["uri"]] = params["textDocument"].get("version")
        elif method == "textDocument/inlineCompletion":
            pos = params["position"]
            text = texts.get(params["textDocument"]["uri"], "")
            result = {"items": answer(rules, text, pos["line"], pos["character"])}
        elif method == "textDocument/completion":
            pos = params["position"]
            text = texts.get(params["textDocument"]["uri"], "")
            result = menu_answer(rules, text, pos["line"], pos["character"], client)
        elif method in ("fimLsp/inlineEdit", "textDocument/copilotInlineEdit"):
            doc, pos = params["textDocument"], params["position"]
            uri, version = doc["uri"], versions.get(doc["uri"])
            if doc.get("version") not in (None, version):
                result = {"edits": []}
            else:
                text = texts.get(uri, "")
                result = edits_answer(rules, uri, version, text, pos["line"], pos["character"])
        elif method == "fimLsp/cursor":
            cursors.append(params)
        elif method == "scripted/cursors":
            result = cursors
        elif method == "shutdown":
            time.sleep(shutdown_delay)
        elif method == "exit":
            return 0
        if "id" in msg and "method" in msg:
            write_message(stdout, {"id": msg["id"], "result": result})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
