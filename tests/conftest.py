"""Shared test setup: tests/ is on sys.path (for lsp_helpers) because this file lives here."""
