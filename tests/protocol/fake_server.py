"""fim-lsp with a scripted engine, for protocol tests where the model's text does not matter.

Everything but the engine is the real server: cli, transport, protocol, handlers, documents,
windows, pipeline and worker. Two test-only requests read the server's state:
``fuzz/documentText`` (a document's text as the server holds it) and ``fuzz/lastPrompt`` (the
size of the last prompt the engine was given).

    python tests/protocol/fake_server.py [fim-lsp serve arguments]
"""

from __future__ import annotations

import functools
import hashlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lsp_server import cli, server  # noqa: E402
from lsp_server.completion import CompletionService  # noqa: E402
from lsp_server.engine.base import (  # noqa: E402
    CancelToken,
    Capabilities,
    EngineInfo,
    GenerationJob,
    GenerationResult,
)

ANSWERS = ("return value\n", "x = 1", "    pass\n", "foo(bar)\nbaz()\n", "", "]}\n")


@dataclass
class LastPrompt:
    chars: int = 0
    tokens: int = 0


LAST = LastPrompt()


class ScriptedEngine:
    """Answers from a small table keyed by a hash of the prompt; a few ms per token."""

    def load(self, progress: Any) -> EngineInfo:
        return EngineInfo("scripted", "none", "qwen", Capabilities())

    def count_tokens(self, text: str) -> int:
        text.encode("utf-8")  # what a real tokenizer does first: lone surrogates must not get here
        return (len(text) + 3) // 4

    def generate(self, job: GenerationJob, cancel: CancelToken) -> GenerationResult:
        p = job.prompt
        chars = sum(len(s) for s in (p.prefix, p.middle, p.suffix, *(c.text for c in p.extra)))
        LAST.chars, LAST.tokens = chars, sum(self.count_tokens(s) for s in (p.prefix, p.middle, p.suffix))
        key = hashlib.sha1((p.prefix + p.middle).encode("utf-8")).digest()[0]
        answer = ANSWERS[key % len(ANSWERS)]
        for i in range(len(answer)):
            if cancel.cancelled:
                return GenerationResult(answer[:i], "cancelled", LAST.tokens, 0, i)
            time.sleep(0.001)
            if job.should_stop is not None and job.should_stop(answer[: i + 1]):
                return GenerationResult(answer[: i + 1], "stop", LAST.tokens, 0, i + 1)
        return GenerationResult(answer, "eos", LAST.tokens, 0, len(answer))

    def close(self) -> None:
        pass


def _register_test_requests(ls: server.FimServer) -> server.FimServer:
    @ls.feature("fuzz/documentText")
    def document_text(ls: server.FimServer, params: Any = None) -> Any:
        uri = getattr(params, "uri", None)
        doc = ls.documents.get(uri) if isinstance(uri, str) else None
        return None if doc is None else {"text": doc.text, "version": doc.version}

    @ls.feature("fuzz/lastPrompt")
    def last_prompt(ls: server.FimServer, params: Any = None) -> Any:
        return {"chars": LAST.chars, "tokens": LAST.tokens}

    return ls


def main() -> int:
    server.CompletionService = functools.partial(  # type: ignore[misc]
        CompletionService, engine_factory=lambda _settings: ScriptedEngine())
    original = cli._serve

    def serve(args: Any) -> int:
        from lsp_server import handlers

        register = handlers.register
        handlers.register = lambda ls: _register_test_requests(register(ls))  # type: ignore[assignment]
        return original(args)

    cli._serve = serve  # type: ignore[assignment]
    return cli.main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
