// Draws a dedent where it will land, and applies it on Tab (see dedent.ts for why VS Code's
// own ghost text cannot).
import * as vscode from "vscode";
import { Dedent, dedentOf } from "./dedent";

/** The context key the Tab and Escape keybindings of package.json depend on. */
export const DEDENT_VISIBLE = "fimLsp.dedentVisible";

interface Shown {
  editor: vscode.TextEditor;
  version: number;
  line: number;
  dedent: Dedent;
}

export class DedentPreview implements vscode.Disposable {
  // The text comes in a `before` attachment at the dedent's column; the indentation it
  // replaces, up to the cursor, is drawn with no width, so the line reads as it will.
  private readonly decoration = vscode.window.createTextEditorDecorationType({ letterSpacing: "-1ch" });
  private readonly subscriptions: vscode.Disposable[];
  private shown: Shown | undefined;

  constructor() {
    this.subscriptions = [
      this.decoration,
      vscode.window.onDidChangeTextEditorSelection((e) => {
        const active = e.selections[0]?.active;
        const s = this.shown;
        if (s && (e.textEditor !== s.editor || !active || active.line !== s.line || active.character !== s.dedent.end)) {
          this.hide();
        }
      }),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (this.shown && e.document === this.shown.editor.document && e.contentChanges.length > 0) {
          this.hide();
        }
      }),
      vscode.window.onDidChangeActiveTextEditor(() => this.hide()),
      vscode.commands.registerCommand("fimLsp.acceptDedent", () => this.accept()),
      vscode.commands.registerCommand("fimLsp.hideDedent", () => this.hide()),
    ];
  }

  /** What is drawn now (for the end-to-end suite), or undefined. */
  get current(): Dedent | undefined {
    return this.shown?.dedent;
  }

  /**
   * Takes the server's items for `position`: when the first is a dedent in the active editor,
   * draws it and gives VS Code nothing; otherwise gives VS Code the items it draws right.
   */
  take(
    document: vscode.TextDocument,
    position: vscode.Position,
    items: vscode.InlineCompletionItem[],
  ): vscode.InlineCompletionItem[] {
    this.hide();
    const line = document.lineAt(position.line).text;
    const dedents = items.map((item) => dedentOf(line, position.character, lineItem(item, position)));
    const editor = vscode.window.activeTextEditor;
    const first = dedents[0];
    if (first && editor?.document === document && editor.selection.active.isEqual(position)) {
      this.show({ editor, version: document.version, line: position.line, dedent: first });
      return [];
    }
    return items.filter((_, i) => dedents[i] === undefined);
  }

  hide(): void {
    if (!this.shown) {
      return;
    }
    this.shown.editor.setDecorations(this.decoration, []);
    this.shown = undefined;
    void vscode.commands.executeCommand("setContext", DEDENT_VISIBLE, false);
  }

  dispose(): void {
    this.hide();
    for (const s of this.subscriptions) {
      s.dispose();
    }
  }

  private show(shown: Shown): void {
    const { line, dedent } = shown;
    shown.editor.setDecorations(this.decoration, [
      {
        range: new vscode.Range(line, dedent.column, line, dedent.end),
        renderOptions: {
          before: {
            contentText: dedent.shown,
            color: new vscode.ThemeColor("editorGhostText.foreground"),
            backgroundColor: new vscode.ThemeColor("editorGhostText.background"),
          },
        },
      },
    ]);
    this.shown = shown;
    void vscode.commands.executeCommand("setContext", DEDENT_VISIBLE, true);
  }

  /** Tab: replaces the indentation with the line, puts the cursor after it, asks for more. */
  private async accept(): Promise<void> {
    const s = this.shown;
    this.hide();
    if (!s || s.editor.document.version !== s.version) {
      return;
    }
    const { line, dedent } = s;
    const applied = await s.editor.edit((edit) =>
      edit.replace(new vscode.Range(line, dedent.start, line, dedent.end), dedent.insert),
    );
    if (applied) {
      const end = new vscode.Position(line, dedent.start + dedent.insert.length);
      s.editor.selection = new vscode.Selection(end, end);
      await vscode.commands.executeCommand("editor.action.inlineSuggest.trigger");
    }
  }
}

function lineItem(item: vscode.InlineCompletionItem, position: vscode.Position) {
  const range = item.range ?? new vscode.Range(position, position);
  const text = typeof item.insertText === "string" ? item.insertText : "";
  if (typeof item.insertText !== "string" || range.start.line !== position.line || range.end.line !== position.line) {
    return { start: -1, end: -1, text }; // a snippet, or other lines: VS Code's to draw
  }
  return { start: range.start.character, end: range.end.character, text };
}
