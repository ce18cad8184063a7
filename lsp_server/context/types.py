"""Plain data passed from the context stage to the engines."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ExtraChunk:
    """Another file's text given to the model as repository context."""

    path: str
    text: str


@dataclass(frozen=True)
class Prompt:
    """The text pieces of one fill-in-the-middle request, before any template is applied.

    The cursor sits between ``prefix + middle`` and ``suffix``. ``prefix`` ends at an *anchor*
    line boundary that moves only in large steps, and ``middle`` holds the text from the anchor to
    the cursor. Templates put ``middle`` after the FIM middle token, so while the user types only
    the tail of the token sequence changes and the KV cache of everything before it survives.
    """

    prefix: str
    suffix: str
    middle: str = ""
    path: str = ""
    repo: str = ""
    language_id: str = ""
    extra: tuple[ExtraChunk, ...] = field(default=())

    @property
    def before_cursor(self) -> str:
        return self.prefix + self.middle
