"""The layering rules of docs/architecture.md, checked on every module's imports.

A module may import only the layers listed for it, and only the llama-cpp-python adapter uses
that package's private parts. The test parses each file (imports inside functions count too),
so a forbidden import or use fails here before it reaches review.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lsp_server"

# Layer of each module (by dotted name prefix, longest match wins) and the layers it may use.
LAYER = {
    "lsp_server": "root",
    "lsp_server.config": "config",
    "lsp_server.backends": "config",  # the backend names a setting may take, and where each lives
    "lsp_server.documents": "documents",
    "lsp_server.models": "models",
    "lsp_server.context": "context",
    "lsp_server.workspace": "workspace",  # the one module that reads workspace files (a thread of its own)
    "lsp_server.postprocess": "postprocess",
    "lsp_server.engine": "engine",
    "lsp_server.pipeline": "pipeline",
    "lsp_server.items": "items",
    "lsp_server.completion": "completion",
    "lsp_server.completion.service": "service",
    "lsp_server.completion.background": "background",
    "lsp_server.completion.run": "run",
    "lsp_server.completion.cold": "cold",  # pure: the cold-start window's plan
    "lsp_server.completion.stats": "stats",
    "lsp_server.completion.cache": "cache",
    "lsp_server.completion.query": "query",
    "lsp_server.engine.worker": "worker",  # the one thread that runs the engine
    "lsp_server.engine.host": "host",  # the engine's lifecycle, shared by the features
    "lsp_server.nextedit": "nextedit",  # pure: history, prompt, rewrite, edits
    "lsp_server.nextedit.predict": "nextedit-run",
    "lsp_server.nextedit.service": "nextedit-service",
    "lsp_server.server": "server",
    "lsp_server.features": "features",
    "lsp_server.handlers": "handlers",
    "lsp_server.transport": "transport",
    "lsp_server.doctor": "cli",
    "lsp_server.cli": "cli",
    "lsp_server.__main__": "cli",
}
MAY_USE: dict[str, set[str]] = {
    "root": set(),
    "config": set(),
    "documents": set(),
    "models": set(),
    "context": {"documents"},
    "workspace": {"context"},
    "postprocess": set(),
    "engine": {"root", "config", "models", "context"},
    "pipeline": {"config", "context", "engine", "postprocess"},
    "worker": {"engine"},
    "query": {"documents", "postprocess"},
    "cache": {"postprocess", "query"},
    "items": set(),
    "transport": set(),
    # The completion package: its entry point (the package itself) re-exports the service, which
    # joins the stages; each stage imports only the ones below it.
    "stats": {"engine"},
    "host": {"config", "engine", "worker"},
    "cold": {"config", "pipeline"},
    "run": {"config", "context", "engine", "pipeline", "postprocess", "query", "cache", "cold", "worker", "workspace"},
    "background": {"engine", "postprocess", "query", "cache", "stats", "run", "host", "worker"},
    "service": {"config", "engine", "postprocess", "query", "cache", "stats", "run", "background", "host",
                "worker", "workspace"},
    "completion": {"query", "service"},
    # The server holds documents, settings and the shared engine host; it knows no feature.
    "server": {"root", "config", "documents", "engine", "host", "transport", "workspace"},
    # A feature is the LSP side of one domain package, reached through its entry point only.
    "features": {"server", "config", "documents", "engine", "postprocess", "completion", "items", "nextedit", "nextedit-service"},
    "handlers": {"server", "features", "items"},
    # The next-edit feature: pure stages, one run on the engine, its entry point.
    "nextedit": {"documents", "context", "postprocess"},
    "nextedit-run": {"documents", "engine", "nextedit"},
    "nextedit-service": {"config", "documents", "engine", "worker", "nextedit", "nextedit-run"},
    "cli": set(LAYER.values()),
}
# Only the protocol layers speak LSP; everything under them is plain data in, plain data out.
PROTOCOL = ("pygls", "lsprotocol")
PROTOCOL_LAYERS = {"server", "features", "handlers", "cli"}
# llama-cpp-python's private parts (its objects' private attributes, the KV cache's token
# sequence, the raw llama_* bindings) are the adapter's alone. doctor.py reports the installed
# package and its build, through the public names listed for it.
LLAMA_ADAPTER = "lsp_server.engine.llama_adapter"
LLAMA_PRIVATE = {"_ctx", "_model", "_batch", "_stack", "_input_ids", "_scores", "input_ids", "n_tokens", "scores"}
LLAMA_REPORTING = {"lsp_server.doctor": {"__version__", "__file__", "llama_supports_gpu_offload", "llama_print_system_info"}}


def _layer(module: str) -> str:
    best = max((m for m in LAYER if module == m or module.startswith(m + ".")), key=len)
    return LAYER[best]


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        out.append((".".join(parts), path))
    return out


def _imports(path: Path, module: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's package
                base = module.split(".")[: -node.level] if not path.name == "__init__.py" else module.split(".")
                found.append(".".join([*base, node.module or ""]).rstrip("."))
            elif node.module:
                found.append(node.module)
                if node.module == "lsp_server":  # `from lsp_server import models`
                    found += [f"lsp_server.{a.name}" for a in node.names if f"lsp_server.{a.name}" in LAYER]
    return found


@pytest.mark.parametrize(("module", "path"), _modules(), ids=[m for m, _ in _modules()])
def test_imports_follow_the_layers(module: str, path: Path) -> None:
    layer = _layer(module)
    for imported in _imports(path, module):
        top = imported.split(".")[0]
        if top in PROTOCOL:
            assert layer in PROTOCOL_LAYERS, f"{module} ({layer}) imports {imported}: only {PROTOCOL_LAYERS} speak LSP"
        elif top == "lsp_server" and imported != "lsp_server":
            used = _layer(imported)
            assert used == layer or used in MAY_USE[layer], f"{module} ({layer}) may not import {imported} ({used})"


def _feature_of(module: str) -> str | None:
    """``lsp_server.features.completion`` -> ``completion``; None outside lsp_server.features."""
    parts = module.split(".")
    return parts[2] if parts[:2] == ["lsp_server", "features"] and len(parts) > 2 else None


def _foreign_features(module: str, imported: list[str]) -> list[str]:
    own = _feature_of(module)
    return [name for name in imported if (other := _feature_of(name)) is not None and other != own]


@pytest.mark.parametrize(("module", "path"), _modules(), ids=[m for m, _ in _modules()])
def test_features_do_not_import_each_other(module: str, path: Path) -> None:
    if _feature_of(module) is not None:
        assert not _foreign_features(module, _imports(path, module)), f"{module} imports another feature"


def test_the_feature_rule_catches_a_feature_importing_another() -> None:
    assert _foreign_features("lsp_server.features.nextedit", ["lsp_server.features.completion"]) == [
        "lsp_server.features.completion"]
    assert _foreign_features("lsp_server.features.completion", ["lsp_server.features.completion", "lsp_server.server"]) == []


SERVER_MODULE_LINES = 350


@pytest.mark.parametrize("path", sorted((PACKAGE / "server").glob("*.py")) + sorted((PACKAGE / "features").glob("*.py")),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_server_and_feature_modules_are_small_and_say_their_job(path: Path) -> None:
    """The server was one 780-line class; each part now has a module a newcomer can read."""
    assert len(path.read_text().splitlines()) <= SERVER_MODULE_LINES
    assert ast.get_docstring(ast.parse(path.read_text())), f"{path.name} has no docstring saying its job"


def test_handlers_are_the_only_feature_sites() -> None:
    sites = [p.name for _, p in _modules() if "@server.feature" in p.read_text()]
    assert sites == ["handlers.py"]


def test_the_rules_catch_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "cut.py"
    bad.write_text("from pygls.lsp.server import LanguageServer\nfrom lsp_server.server import FimServer\n")
    imported = _imports(bad, "lsp_server.postprocess.cut")
    layer = _layer("lsp_server.postprocess.cut")
    assert imported == ["pygls.lsp.server", "lsp_server.server"]
    assert layer not in PROTOCOL_LAYERS and _layer("lsp_server.server") not in MAY_USE[layer]


def _llama_cpp_uses(source: str, module: str) -> list[str]:
    """Uses of llama-cpp-python that only the adapter may make, as "line: use": imports, private
    attributes of any object but ``self``, raw ``llama_*`` bindings, other names of the package."""
    if module == LLAMA_ADAPTER:
        return []
    allowed = LLAMA_REPORTING.get(module, set())
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, f"import {a.name}") for a in node.names
                      if a.name.split(".")[0] == "llama_cpp" and module not in LLAMA_REPORTING]  # fmt: skip
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "llama_cpp":
            found += [(node.lineno, f"from {node.module} import {a.name}") for a in node.names if a.name not in allowed]
        elif isinstance(node, ast.Attribute):
            owner = node.value.id if isinstance(node.value, ast.Name) else ""
            if node.attr in LLAMA_PRIVATE and owner != "self":
                found.append((node.lineno, f".{node.attr}"))
            elif owner == "llama_cpp" and node.attr not in allowed:
                found.append((node.lineno, f"llama_cpp.{node.attr}"))
            elif node.attr.startswith("llama_") and owner != "llama_cpp":
                found.append((node.lineno, f".{node.attr}"))
    return [f"{line}: {use}" for line, use in sorted(found)]


@pytest.mark.parametrize(("module", "path"), _modules(), ids=[m for m, _ in _modules()])
def test_only_the_adapter_uses_llama_cpp_private_parts(module: str, path: Path) -> None:
    uses = _llama_cpp_uses(path.read_text(), module)
    assert not uses, f"{module} uses llama-cpp-python's private parts (only {LLAMA_ADAPTER} may): {uses}"


def test_the_rules_catch_a_private_llama_cpp_use() -> None:
    bad = """import llama_cpp
from llama_cpp import Llama
llm._ctx.kv_cache_clear()
engine._llm._model.vocab
llm.n_tokens = 0
lib.llama_decode(ctx, batch)
llama_cpp.llama_get_logits_ith(ctx, -1)
self._model = "a remote model's name, no llama.cpp internal"
print(llama_cpp.__version__)
"""
    assert _llama_cpp_uses(bad, "lsp_server.engine.llama_cpp") == [
        "1: import llama_cpp", "2: from llama_cpp import Llama", "3: ._ctx", "4: ._model", "5: .n_tokens",
        "6: .llama_decode", "7: llama_cpp.llama_get_logits_ith", "9: llama_cpp.__version__",
    ]  # fmt: skip
    assert _llama_cpp_uses(bad, "lsp_server.doctor") == [
        "2: from llama_cpp import Llama", "3: ._ctx", "4: ._model", "5: .n_tokens", "6: .llama_decode",
        "7: llama_cpp.llama_get_logits_ith",
    ]  # fmt: skip
    assert _llama_cpp_uses(bad, LLAMA_ADAPTER) == []
