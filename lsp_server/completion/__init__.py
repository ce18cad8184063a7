"""The completion feature: snapshot + cursor in, suggestions out. No pygls here.

`CompletionService` (service.py) is its one entry point. Behind it, in the order a request
walks them: `cache.py` (answers from memory), `background.py` (prefetch and speculation),
`run.py` (the pipeline on the engine host's worker thread, `engine/worker.py`); beside them
`stats.py` (the counters); `query.py` holds what they share. The engine's lifecycle
(`engine/host.py`) is the server's, shared with other features.
"""

from lsp_server.completion.query import CompletionQuery
from lsp_server.completion.service import CompletionService

__all__ = ["CompletionQuery", "CompletionService"]
