"""The layering rules of docs/architecture.md, checked on every module's imports.

A module may import only the layers listed for it. The test parses each file (imports inside
functions count too), so a forbidden import fails here before it reaches review.
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
    "lsp_server.postprocess": "postprocess",
    "lsp_server.engine": "engine",
    "lsp_server.pipeline": "pipeline",
    "lsp_server.items": "items",
    "lsp_server.completion": "completion",
    "lsp_server.completion.service": "service",
    "lsp_server.completion.background": "background",
    "lsp_server.completion.run": "run",
    "lsp_server.completion.engine_host": "lifecycle",
    "lsp_server.completion.stats": "stats",
    "lsp_server.completion.cache": "cache",
    "lsp_server.completion.query": "query",
    "lsp_server.completion.worker": "worker",
    "lsp_server.server": "server",
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
    "lifecycle": {"config", "engine", "worker"},
    "run": {"config", "context", "engine", "pipeline", "postprocess", "query", "cache", "worker"},
    "background": {"engine", "postprocess", "query", "cache", "stats", "run", "lifecycle", "worker"},
    "service": {"config", "engine", "postprocess", "query", "cache", "stats", "run", "background", "lifecycle",
                "worker"},
    "completion": {"query", "service"},
    # The server reaches the completion feature through its entry point only.
    "server": {"root", "config", "documents", "engine", "postprocess", "completion", "items", "transport"},
    "handlers": {"server", "items"},
    "cli": set(LAYER.values()),
}
# Only the protocol layers speak LSP; everything under them is plain data in, plain data out.
PROTOCOL = ("pygls", "lsprotocol")
PROTOCOL_LAYERS = {"server", "handlers", "cli"}


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
