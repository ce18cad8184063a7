"""Shape suggestions into the items editors apply. Pure: plain data in and out, no pygls.

A suggestion is text to insert at the cursor, after replacing the last ``replace_from``
characters before the cursor on its line (0: a plain insertion). Completion-menu clients apply
an item each their own way, so a menu item is shaped to come out right in all of them:

- its edit starts at the word typed before the cursor and its ``newText`` repeats that word:
  eglot 1.9 deletes the inserted label minus the typed word, then applies the edit; an edit
  that starts at the cursor gets the typed word twice (``if pre`` -> ``if proprocessor``);
- ``label`` and ``filterText`` start with the typed word: vim-lsp and Neovim drop items whose
  filter text does not start with it. In Neovim the word runs over dashes (``total-pre``):
  nvim-cmp and blink.cmp match that whole run against the filter text;
- ``label`` is exactly the text the edit leaves on the cursor line: Neovim's completion inserts
  the label of a snippet item as the completion's word, and with the default ``completeopt`` a
  lone item may stay as that word without its edit ever being applied;
- one line unless the client is known to insert line breaks as they are, or expands snippets:
  Vim turns a "\\n" in a completion word into a NUL byte;
- for vim-lsp, ``filterText`` starts with the text its edit replaces before the cursor: vim-lsp
  starts the completion at the edit's start and drops an item whose filter text does not start
  with what lies between there and the cursor (a dedent's indentation);
- a tab-indented line keeps its tabs: a suggestion whose indentation the model wrote in spaces
  goes after them instead of replacing them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

# Where a completion menu may open by itself (vim.lsp.completion's autotrigger, company, ...):
# after a member access, an opening bracket or an argument separator, where the code that follows
# is predictable and wanted. Not " " or "\n": each request runs the model, and a menu at every
# word boundary would cost a run per word typed (VS Code already asks on every word typed).
TRIGGER_CHARACTERS = (".", "(", "[", ",")

# Clients whose completion inserts a plain-text newText with its line breaks as they are.
MULTILINE_CLIENTS = frozenset({"eglot", "helix", "visual studio code", "code-server", "code-oss", "vscodium"})

# Clients whose menu takes the word before the cursor with its dashes: nvim-cmp (its
# keyword_pattern \h\w*\%(-\w*\)*) and blink.cmp (iskeyword plus "-") drop an item for
# `total-pre` whose filter text starts at `pre`. Both run in Neovim (clientInfo.name "Neovim"),
# as vim.lsp.completion does, which filters from the edit's start and so accepts either; only
# next to another server whose edits start elsewhere does it fall back to its own word (`pre`)
# and drop this item, a trade for the two plugins most Neovim users complete with.
DASHED_WORD_CLIENTS = frozenset({"neovim"})

# Clients that match the text from the edit's start to the cursor against filterText (vim-lsp:
# its startcol is the leftmost textEdit start, and its prefix filter then drops the item).
FILTER_FROM_EDIT_CLIENTS = frozenset({"vim-lsp"})

# The word typed before the cursor, matched at the start of the reversed line: a search for
# r"\w+$" restarts at every position, quadratic in a long run of word characters before a
# non-word one (11 s for 30,000 characters).
_WORD_REVERSED = re.compile(r"\w+")
# With dashes inside or after it (`a--b`, `total-`), not before it (`-pre`), as nvim-cmp and
# blink.cmp take it.
_DASHED_WORD_REVERSED = re.compile(r"(?:\w*-)*\w+")
# Characters some client turns into a NUL byte or a line break; never sent in a one-line item.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SNIPPET_SPECIAL = re.compile(r"([\\$}])")


@dataclass(frozen=True)
class MenuCaps:
    """What a completion-menu client does with an item's text."""

    snippets: bool = False  # completionItem.snippetSupport
    multiline: bool = False  # inserts a plain-text newText with line breaks as they are
    dashed_words: bool = False  # the typed word runs over dashes (`total-pre`)
    filter_from_edit: bool = False  # filters with the text from the edit's start to the cursor


@dataclass(frozen=True)
class MenuItem:
    """One completion item: ``new_text`` replaces the cursor line from ``start`` to the cursor."""

    label: str
    filter_text: str
    start: int  # string index in the cursor line
    new_text: str
    snippet: bool = False  # new_text is snippet syntax (InsertTextFormat.Snippet)
    multiline: bool = False  # new_text holds line breaks, with their indentation kept as is


def menu_caps(client_name: str | None, snippet_support: bool | None) -> MenuCaps:
    """A client's traits from its ``clientInfo.name`` and its declared snippet support."""
    name = (client_name or "").strip().lower()
    return MenuCaps(
        snippets=bool(snippet_support),
        multiline=name in MULTILINE_CLIENTS,
        dashed_words=name in DASHED_WORD_CLIENTS,
        filter_from_edit=name in FILTER_FROM_EDIT_CLIENTS,
    )


def typed_word_start(line_before: str, dashed: bool = False) -> int:
    """Index in the line where the word typed before the cursor starts (the cursor if none);
    ``dashed``: the word runs over dashes."""
    m = (_DASHED_WORD_REVERSED if dashed else _WORD_REVERSED).match(line_before[::-1])
    return len(line_before) - (m.end() if m else 0)


def menu_item(suggestion: str, line_before: str, caps: MenuCaps, replace_from: int = 0) -> MenuItem | None:
    """The completion item for a suggestion at the end of ``line_before``; None when this client
    cannot be given it without a risk of other text than the suggestion's."""
    item = _menu_item(suggestion, line_before, caps, replace_from)
    if item is None or not caps.filter_from_edit:
        return item
    lead = line_before[item.start :]  # what the client matches against the filter text
    if item.filter_text.startswith(lead):
        return item
    return replace(item, filter_text=lead + item.filter_text.lstrip(" \t"))


def _menu_item(suggestion: str, line_before: str, caps: MenuCaps, replace_from: int) -> MenuItem | None:
    replace_from = max(0, min(replace_from, len(line_before)))
    kept = len(line_before) - replace_from  # the line's characters the suggestion keeps
    start = min(typed_word_start(line_before, caps.dashed_words), kept)
    text = line_before[start:kept] + suggestion.replace("\r\n", "\n")
    first, _, rest = text.partition("\n")
    if _CONTROL.search(text) or not text.strip() or text == line_before[start:]:
        return None
    if caps.multiline:
        label = _label(text)
        return MenuItem(label, label, start, text, multiline=bool(rest))
    if not first.strip():
        return None  # it starts on the next line: there is no label the client can insert
    body = _relative_indent(text, _indent(line_before[:start])) if rest and caps.snippets else None
    if body is not None:
        return MenuItem(first, first, start, _SNIPPET_SPECIAL.sub(r"\\\1", body), snippet=True)
    if first == line_before[start:]:
        return None  # its first line changes nothing, and this client takes one line only
    if caps.snippets:
        return MenuItem(first, first, start, _SNIPPET_SPECIAL.sub(r"\\\1", first), snippet=True)
    return MenuItem(first, first, start, first)


def _label(text: str) -> str:
    """The first line; when it is blank, the first line that is not, so the menu shows something."""
    first = text.split("\n", 1)[0]
    if first.strip():
        return first
    return next((ln.strip() for ln in text.split("\n") if ln.strip()), first)


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _relative_indent(text: str, base: str) -> str | None:
    """Lines after the first without the cursor line's indentation, which snippet expansion adds
    back (Neovim's vim.snippet, LSP's adjustIndentation); None when a line is indented less."""
    if not base:
        return text
    lines = text.split("\n")
    out = [lines[0]]
    for line in lines[1:]:
        if not line.strip():
            out.append(line[len(base):] if line.startswith(base) else "")
        elif line.startswith(base):
            out.append(line[len(base):])
        else:
            return None
    return "\n".join(out)


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
