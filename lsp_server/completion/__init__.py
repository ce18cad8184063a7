"""The completion feature: snapshot + cursor in, suggestions out. No pygls here.

`CompletionService` is its one entry point; the modules beside it are its stages.
"""

from lsp_server.completion.query import CompletionQuery
from lsp_server.completion.service import CompletionService

__all__ = ["CompletionQuery", "CompletionService"]
