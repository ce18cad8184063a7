"""The completion feature: snapshot + cursor in, suggestions out. No pygls here.

`CompletionService` is its one entry point; the modules beside it are its stages.
"""

from lsp_server.completion.service import CompletionQuery, CompletionService

__all__ = ["CompletionQuery", "CompletionService"]
