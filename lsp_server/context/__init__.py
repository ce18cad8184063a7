"""Pure prompt building: a document snapshot and settings in, a `Prompt` out. No pygls here."""

from lsp_server.context.types import ExtraChunk, Prompt

__all__ = ["ExtraChunk", "Prompt"]
