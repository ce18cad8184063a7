// When the extension tells the server where the cursor rests (fimLsp/cursor): pure, so the
// rules are unit-tested without VS Code (cursor.ts is the VS Code side).

export const CURSOR_METHOD = "fimLsp/cursor";
/** How long the cursor must rest before it is reported (ms): arrow keys held down, or a search
 * hopping over matches, send nothing until they stop. */
export const CURSOR_REST_MS = 300;
/** A selection change this soon after an edit of its document was caused by the edit. */
export const EDIT_MOVE_MS = 100;

/**
 * Decides which cursor moves are reports. A move made by typing is not: the editor's own
 * inline-completion request brings the server there, and a report would only queue work
 * behind it. A move with no edit (a click, a jump, arrow keys, a file opened) is.
 */
export class CursorRest {
  private readonly edits = new Map<string, number>();

  /** The document `uri` was edited at `now` (ms). */
  edited(uri: string, now: number): void {
    this.edits.set(uri, now);
  }

  /** The cursor moved in `uri` at `now`: true to report it once it rests. */
  moved(uri: string, now: number): boolean {
    const edit = this.edits.get(uri);
    return edit === undefined || now - edit > EDIT_MOVE_MS;
  }

  /** A report for a move at `since` is due at `now` unless `uri` was edited after the move. */
  due(uri: string, since: number): boolean {
    const edit = this.edits.get(uri);
    return edit === undefined || edit < since;
  }

  /** The document closed. */
  forget(uri: string): void {
    this.edits.delete(uri);
  }
}
