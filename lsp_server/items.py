"""Shape suggestions into the items editors apply. Pure: plain data in and out, no pygls."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SelectedItem:
    """The completion-menu item VS Code's suggest widget has selected, as string indices."""

    start: int
    end: int
    text: str


def accept_selected(text: str, cursor: int, item: SelectedItem) -> tuple[str, int] | None:
    """The buffer and cursor as if the selected item were accepted; None for an item that does
    not end at or after the cursor on its line (no sensible completion then)."""
    if not (0 <= item.start <= cursor <= item.end <= len(text)) or "\n" in text[item.start : item.end]:
        return None
    return text[: item.start] + item.text + text[item.end :], item.start + len(item.text)


def extend_selected(suggestions: list[str], item: SelectedItem) -> list[str]:
    """Inline texts for the item's range: the item's text, then the suggestion after it."""
    return [item.text + s for s in suggestions if s.strip()]
