"""Parsers for the gate in languages other than Python, through tree-sitter's per-language
grammar wheels. A grammar that is not installed (or fails to load) means no parser: the gate then
lets suggestions through unchanged rather than guess.

tree-sitter never fails a parse; it recovers with ERROR and MISSING nodes. The first of those, in
document order, is the error the gate compares before and after a suggestion. This module only
finds it; `gate` decides what it means.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from functools import cache
from typing import Any

log = logging.getLogger(__name__)

# LSP languageId -> (grammar module, the function in it that returns the grammar).
GRAMMARS: dict[str, tuple[str, str]] = {
    "javascript": ("tree_sitter_javascript", "language"),
    "javascriptreact": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "typescriptreact": ("tree_sitter_typescript", "language_tsx"),
    "go": ("tree_sitter_go", "language"),
    "rust": ("tree_sitter_rust", "language"),
    "java": ("tree_sitter_java", "language"),
    "c": ("tree_sitter_c", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
}


@cache
def _language(language_id: str) -> Any | None:
    """The loaded grammar, once per process; None (logged once) when it is not available."""
    spec = GRAMMARS.get(language_id)
    if spec is None:
        return None
    try:
        import tree_sitter

        module = importlib.import_module(spec[0])
        return tree_sitter.Language(getattr(module, spec[1])())
    except Exception as err:  # ImportError, or a grammar built for another tree-sitter ABI
        log.info("no %s parser for the gate (%s): suggestions pass unchecked", language_id, err)
        return None


def _first_error(root: Any) -> Any | None:
    """The first ERROR or MISSING node in document order (iterative: trees can be deep)."""
    stack = [root]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            return node
        stack.extend(child for child in reversed(node.children) if child.has_error or child.is_missing)
    return None


def error_finder(language_id: str) -> Callable[[str], int | None] | None:
    """A function giving the character offset of the first syntax error in a text (None when it
    parses), or None when there is no grammar for ``language_id``. It raises ValueError when
    tree-sitter cannot parse at all."""
    language = _language(language_id)
    if language is None:
        return None

    def first_error(text: str) -> int | None:
        import tree_sitter

        data = text.encode("utf-8", "surrogatepass")
        try:
            tree = tree_sitter.Parser(language).parse(data)
        except Exception as err:
            raise ValueError(f"tree-sitter could not parse: {err}") from err
        node = _first_error(tree.root_node)
        if node is None:
            return None
        return len(data[: node.start_byte].decode("utf-8", "surrogatepass"))

    return first_error


def parse_tree(language_id: str, text: str) -> Any | None:
    """The tree-sitter tree of ``text`` (None when there is no grammar for ``language_id``)."""
    language = _language(language_id)
    if language is None:
        return None
    import tree_sitter as ts

    return ts.Parser(language).parse(text.encode("utf-8", "surrogatepass"))
