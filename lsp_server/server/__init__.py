"""The language server: `FimServer` (core.py) with its protocol fixes (protocol.py), serving loop
(serving.py) and lifecycle (lifecycle.py). Features (lsp_server/features/) plug into it."""

from lsp_server.server.core import STATS_REQUEST, Feature, FimServer
from lsp_server.server.lifecycle import STATUS_NOTIFICATION

__all__ = ["STATS_REQUEST", "STATUS_NOTIFICATION", "Feature", "FimServer"]
