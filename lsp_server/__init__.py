"""fim-lsp: inline fill-in-the-middle completions from a local GGUF model."""

__version__ = "0.1.0"
