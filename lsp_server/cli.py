"""Command line: serve (stdio, tcp), complete, model, doctor."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from pathlib import Path

from lsp_server import __version__, models
from lsp_server.config import SettingsSources, config_file

log = logging.getLogger("lsp_server")


def _setup_logging(verbose: bool, log_file: str | None) -> None:
    """Editors show a server's stderr as errors (Neovim's lsp.log marks every line [ERROR]), so
    stderr gets warnings only; -v or a log file of one's own adds the rest."""
    handler: logging.Handler = logging.FileHandler(log_file) if log_file else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO if log_file else logging.WARNING)
    if not verbose:
        logging.getLogger("pygls").setLevel(logging.WARNING)
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
        logging.getLogger("lsp_server.llama_cpp.native").setLevel(logging.WARNING)


def _serve(args: argparse.Namespace) -> int:
    from lsp_server.handlers import register
    from lsp_server.server import FimServer

    server = register(FimServer(SettingsSources(cli_model=args.model)))
    if args.tcp:
        return server.start_tcp(args.host, args.port)
    # stdout is the protocol channel: give the protocol its own copy of fd 1 and point fd 1 at
    # stderr, so nothing native (llama.cpp, a stray print) can write into the JSON-RPC stream.
    protocol_out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return server.start_io(sys.stdin.buffer, protocol_out)


def _progress_printer(label: str):  # type: ignore[no-untyped-def]
    last = [-1]

    def report(message: str, percentage: int | None) -> None:
        if percentage is None or percentage != last[0]:
            last[0] = percentage if percentage is not None else last[0]
            pct = f"{percentage:3d}% " if percentage is not None else ""
            sys.stderr.write(f"\r{label}: {pct}{message}\033[K")
            sys.stderr.flush()
            if percentage == 100:
                sys.stderr.write("\n")

    return report


def _complete(args: argparse.Namespace) -> int:
    from lsp_server.completion import CompletionQuery, CompletionService
    from lsp_server.documents import UTF32, PositionError, Snapshot
    from lsp_server.engine import EngineError
    from lsp_server.engine.host import EngineHost
    from lsp_server.postprocess import Suggestion

    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        print(f"fim-lsp: cannot read {path}: {err}", file=sys.stderr)
        return 2
    snapshot = Snapshot(path.resolve().as_uri(), text, 1, _language_of(path))
    try:
        offset = snapshot.offset_at(args.line - 1, args.col - 1, UTF32)
    except PositionError as err:
        print(f"fim-lsp: bad position --line {args.line} --col {args.col}: {err}", file=sys.stderr)
        return 2
    result = SettingsSources(cli_model=args.model).resolve()
    for problem in result.problems:
        print(f"fim-lsp: {problem}", file=sys.stderr)
    # One request and no next one: the cold-start window's smaller prompt would only cost quality.
    host = EngineHost(result.settings.replace(cold_budget_ms=0))
    service = CompletionService(host)

    async def run() -> list[Suggestion]:
        try:
            return await complete_once()
        finally:
            service.shutdown()
            await host.shutdown()

    async def complete_once() -> list[Suggestion]:
        t0 = time.monotonic()
        info = await host.load(_progress_printer("model"))
        print(f"model: {Path(info.model).name} ({info.backend}, FIM format {info.fim_format}), "
              f"loaded in {time.monotonic() - t0:.1f}s", file=sys.stderr)
        t1 = time.monotonic()
        texts = await service.complete(CompletionQuery(snapshot, offset, path.name, path.resolve().parent.name))
        last = service.stats.last
        print(f"completion: {time.monotonic() - t1:.2f}s ({last.nPrompt} prompt tokens, "
              f"{last.nGenerated} generated, stop: {last.stopReason})", file=sys.stderr)
        return texts

    try:
        texts = asyncio.run(run())
    except EngineError as err:
        print(f"fim-lsp: {err.user_message()}", file=sys.stderr)
        return 1
    if not texts:
        print("fim-lsp: no suggestion at this position", file=sys.stderr)
        return 3
    line = text[:offset].rsplit("\n", 1)[-1]
    print(f"--- suggestion at {path}:{args.line}:{args.col} (after {line.strip()[-40:]!r}) ---", file=sys.stderr)
    if texts[0].replace:
        print(f"(replaces the {texts[0].replace} blank characters before the cursor)", file=sys.stderr)
    sys.stdout.write(texts[0].text + "\n")
    return 0


_LANGUAGES = {".py": "python", ".js": "javascript", ".ts": "typescript", ".rs": "rust", ".go": "go",
              ".c": "c", ".h": "c", ".cpp": "cpp", ".java": "java", ".lua": "lua", ".rb": "ruby"}


def _language_of(path: Path) -> str:
    return _LANGUAGES.get(path.suffix, "")


def _model(args: argparse.Namespace) -> int:
    if args.action == "list":
        for preset in models.PRESETS.values():
            here = "downloaded" if models.preset_path(preset).is_file() else "-"
            print(f"{preset.name:30} {here:10} {preset.description}")
        print(f"\ncache: {models.models_dir()}  (any local .gguf path works too)")
        return 0
    if not args.name:
        print("fim-lsp: model pull/path needs a NAME (see: fim-lsp model list)", file=sys.stderr)
        return 2
    try:
        if args.action == "path":
            print(models.resolve(args.name, download=False))
        else:
            print(models.resolve(args.name, _progress_printer(args.name)))
    except models.ModelError as err:
        print(f"fim-lsp: {err} {err.hint}".strip(), file=sys.stderr)
        return 1
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from lsp_server.doctor import run_doctor

    return run_doctor(SettingsSources(cli_model=args.model).resolve())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fim-lsp", description="Inline code completion language server (local GGUF via llama.cpp).")
    parser.add_argument("--version", action="version", version=f"fim-lsp {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging (stderr or --log-file)")
    parser.add_argument("--log-file", help="write logs (from INFO on) to this file instead of stderr, "
                        "which gets warnings and errors only")
    parser.add_argument("--model", help="preset name or .gguf path (overrides settings and FIM_LSP_MODEL)")
    parser.add_argument("--stdio", action="store_true", help="serve over stdio (the default)")
    parser.add_argument("--tcp", action="store_true", help="serve over TCP instead of stdio")
    parser.add_argument("--host", default="127.0.0.1", help="TCP bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=2087, help="TCP port (default 2087)")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--model", default=argparse.SUPPRESS, help="preset name or .gguf path")
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="debug logging")
    common.add_argument("--log-file", default=argparse.SUPPRESS, help="log file")
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", parents=[common], help="run the language server (default)")
    for flag in ("--stdio", "--tcp"):
        serve.add_argument(flag, action="store_true", default=argparse.SUPPRESS)
    serve.add_argument("--host", default=argparse.SUPPRESS)
    serve.add_argument("--port", type=int, default=argparse.SUPPRESS)
    comp = sub.add_parser("complete", parents=[common], help="print the suggestion the server would show at a position")
    comp.add_argument("file")
    comp.add_argument("--line", type=int, required=True, help="1-based line")
    comp.add_argument("--col", type=int, required=True, help="1-based column (characters)")
    mod = sub.add_parser("model", parents=[common], help="list, pull or locate models")
    mod.add_argument("action", choices=["list", "pull", "path"])
    mod.add_argument("name", nargs="?")
    sub.add_parser("doctor", parents=[common], help="report the llama.cpp build, the model and its FIM format, and paths")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose, args.log_file)
    log.debug("config file: %s", config_file())
    command = args.command or "serve"
    handlers = {"serve": _serve, "complete": _complete, "model": _model, "doctor": _doctor}
    return handlers[command](args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
