// Which inline items are dedents VS Code would draw in the wrong place. Pure: no `vscode`.
//
// On a blank line VS Code indented (column 8 after a loop body), the server may suggest a line
// that belongs further left (`return result` at column 4): its range starts at 4 and replaces
// the whitespace up to the cursor. VS Code's ghost text leaves out a change of indentation and
// draws the text at the cursor, inside the loop, while Tab inserts it at 4. The extension draws
// such an item itself, at the column where it lands.

/** An inline item as the server sent it, on the cursor line: `start` to `end` is replaced. */
export interface LineItem {
  start: number;
  end: number;
  text: string;
}

/** A dedent: `insert` replaces the line from `start` to `end` (the cursor); it reads as
 * `shown` drawn at `column`. */
export interface Dedent {
  start: number;
  end: number;
  insert: string;
  column: number;
  shown: string;
}

/**
 * The dedent in `item` for a cursor at `cursor` on `line`, or undefined when VS Code draws the
 * item where it lands (a plain insertion, or an edit that keeps the indentation up to the
 * cursor). Only the first line is kept: the extension can draw one line over the indentation,
 * and what Tab inserts must be what is drawn (the rest is suggested from there).
 */
export function dedentOf(line: string, cursor: number, item: LineItem): Dedent | undefined {
  if (item.end !== cursor || item.start >= cursor || item.start < 0) {
    return undefined;
  }
  const replaced = line.slice(item.start, cursor);
  if (replaced.trim() !== "" || line.slice(0, cursor).trim() !== "") {
    return undefined; // not (only) indentation before the cursor: VS Code's diff handles it
  }
  const first = item.text.split("\n", 1)[0];
  if (first.trim() === "" || first.startsWith(replaced)) {
    return undefined; // nothing to see on this line, or the indentation is kept
  }
  // The item's own leading whitespace moves the text right again; VS Code strips it too.
  const own = first.length - first.trimStart().length;
  return { start: item.start, end: cursor, insert: first, column: item.start + own, shown: first.slice(own) };
}
