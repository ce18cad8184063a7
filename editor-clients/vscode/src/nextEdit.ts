// Next-edit suggestions (fimLsp/inlineEdit): which edit to show, how to draw it, and what Tab
// and Escape do. Pure: no `vscode`, so the unit tests drive all of it; nextEditView.ts puts it
// on the screen.
//
// After a change the server may propose an edit elsewhere (a renamed parameter's other uses).
// VS Code's inline-edit API is proposed (an extension using it cannot be published), so the
// edit is drawn with decorations: the replaced text struck through, the new text after it.
// Tab moves the cursor to the edit, Tab again applies it; Escape drops it.

export const INLINE_EDIT_METHOD = "fimLsp/inlineEdit";
/** The context key the Tab and Escape keybindings of package.json depend on. */
export const NEXT_EDIT_VISIBLE = "fimLsp.nextEditVisible";
/** Quiet time after the last change before asking: each request may run the model. */
export const NEXT_EDIT_DEBOUNCE_MS = 300;

export interface Pos {
  line: number;
  character: number;
}

/** `text` replaces `start` to `end` (LSP positions of the version it was asked for). */
export interface NextEdit {
  start: Pos;
  end: Pos;
  text: string;
}

export function comparePos(a: Pos, b: Pos): number {
  return a.line - b.line || a.character - b.character;
}

function isPos(value: unknown): value is Pos {
  const p = value as Pos | null;
  return (
    typeof p === "object" && p !== null && Number.isInteger(p.line) && Number.isInteger(p.character) &&
    p.line >= 0 && p.character >= 0
  );
}

/**
 * The edits of an `fimLsp/inlineEdit` result (`{edits: [{text, textDocument, range}]}`) that
 * belong to `uri` at `version`, in document order; malformed ones are dropped.
 */
export function parseEdits(result: unknown, uri: string, version: number): NextEdit[] {
  const raw = (result as { edits?: unknown } | null)?.edits;
  if (!Array.isArray(raw)) {
    return [];
  }
  const out: NextEdit[] = [];
  for (const e of raw as { text?: unknown; textDocument?: { uri?: unknown; version?: unknown }; range?: { start?: unknown; end?: unknown } }[]) {
    const doc = e?.textDocument;
    const ours = (doc?.uri === undefined || doc.uri === uri) && (doc?.version == null || doc.version === version);
    const start = e?.range?.start;
    const end = e?.range?.end;
    if (ours && typeof e.text === "string" && isPos(start) && isPos(end) && comparePos(start, end) <= 0) {
      out.push({ start: { ...start }, end: { ...end }, text: e.text });
    }
  }
  return out.sort((a, b) => comparePos(a.start, b.start));
}

/** The edit to show: the first that starts after the cursor, else the first. */
export function chooseEdit(edits: readonly NextEdit[], cursor: Pos): NextEdit | undefined {
  return edits.find((e) => comparePos(e.start, cursor) > 0) ?? edits[0];
}

/** Whether the cursor is on the edit (from its start to its end). */
export function isAtEdit(edit: NextEdit, cursor: Pos): boolean {
  return comparePos(edit.start, cursor) <= 0 && comparePos(cursor, edit.end) <= 0;
}

/** Where the cursor goes once the edit is applied: after its new text. */
export function endAfter(edit: NextEdit): Pos {
  const lines = edit.text.split("\n");
  const last = lines[lines.length - 1];
  return lines.length === 1
    ? { line: edit.start.line, character: edit.start.character + last.length }
    : { line: edit.start.line + lines.length - 1, character: last.length };
}

/** How an edit is drawn: the range it replaces (struck through; none for an insertion) and the
 * text it brings, after that range, on one line (a decoration cannot break lines: ⏎ marks them). */
export interface EditDrawing {
  deleted?: { start: Pos; end: Pos };
  inserted?: { at: Pos; label: string };
}

export function drawingOf(edit: NextEdit): EditDrawing {
  const out: EditDrawing = {};
  if (comparePos(edit.start, edit.end) < 0) {
    out.deleted = { start: edit.start, end: edit.end };
  }
  if (edit.text !== "") {
    out.inserted = { at: edit.end, label: edit.text.replace(/\r?\n/g, "⏎") };
  }
  return out;
}

export type Phase = "idle" | "shown" | "jumped";

export type TabAction =
  | { kind: "jump"; to: Pos }
  | { kind: "accept"; edit: NextEdit; cursor: Pos }
  | { kind: "none" };

/**
 * One editor's next edit: idle → (an answer for the current version) shown → (Tab away from
 * the edit) jumped → (Tab on it) accepted, or (Escape, a change, another answer) dropped.
 * Answers to a request that a newer one replaced, or for a version the document has left, are
 * dropped: their positions no longer hold.
 */
export class NextEditSession {
  private current: { edit: NextEdit; version: number } | undefined;
  private atEdit = false;
  private ticket = 0;
  private asked: { ticket: number; version: number } | undefined;

  get phase(): Phase {
    return this.current ? (this.atEdit ? "jumped" : "shown") : "idle";
  }

  get shown(): NextEdit | undefined {
    return this.current?.edit;
  }

  /** A request for `version` goes out: what was shown is stale. Its ticket for `answer`. */
  ask(version: number): number {
    this.clear();
    this.ticket += 1;
    this.asked = { ticket: this.ticket, version };
    return this.ticket;
  }

  /** The document changed: hide, and ignore answers to requests made before. */
  changed(): void {
    this.clear();
    this.asked = undefined;
  }

  /** The server's edits for request `ticket`; `versionNow` is the document's version now.
   * Returns the edit shown, or undefined when the answer was stale or empty. */
  answer(ticket: number, versionNow: number, edits: readonly NextEdit[], cursor: Pos): NextEdit | undefined {
    const asked = this.asked;
    if (!asked || asked.ticket !== ticket || asked.version !== versionNow) {
      return undefined;
    }
    this.asked = undefined;
    const edit = chooseEdit(edits, cursor);
    if (edit) {
      this.current = { edit, version: versionNow };
      this.atEdit = isAtEdit(edit, cursor);
    }
    return edit;
  }

  cursorMoved(cursor: Pos): void {
    if (this.current) {
      this.atEdit = isAtEdit(this.current.edit, cursor);
    }
  }

  /** Tab: jump to the edit when the cursor is elsewhere, apply it when the cursor is on it. */
  tab(cursor: Pos, versionNow: number): TabAction {
    const c = this.current;
    if (!c || c.version !== versionNow) {
      this.clear();
      return { kind: "none" };
    }
    if (isAtEdit(c.edit, cursor)) {
      this.clear();
      return { kind: "accept", edit: c.edit, cursor: endAfter(c.edit) };
    }
    this.atEdit = true;
    return { kind: "jump", to: c.edit.start };
  }

  /** Escape: drop the edit. Whether one was shown. */
  dismiss(): boolean {
    const had = this.current !== undefined;
    this.clear();
    return had;
  }

  private clear(): void {
    this.current = undefined;
    this.atEdit = false;
  }
}
