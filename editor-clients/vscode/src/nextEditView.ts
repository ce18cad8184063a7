// Asks fimLsp/inlineEdit after a change, draws the edit it proposes with decorations, and
// applies it on Tab (see nextEdit.ts for the rules; this file is the VS Code side).
import * as vscode from "vscode";
import type { LanguageClient } from "vscode-languageclient/node";
import { delay } from "./common/delay";
import {
  INLINE_EDIT_METHOD,
  NEXT_EDIT_DEBOUNCE_MS,
  NEXT_EDIT_VISIBLE,
  NextEdit,
  NextEditSession,
  Pos,
  drawingOf,
  parseEdits,
} from "./nextEdit";
import { ExtensionSettings, isLanguageEnabled } from "./settings";

function toPosition(p: Pos): vscode.Position {
  return new vscode.Position(p.line, p.character);
}

function toPos(p: vscode.Position): Pos {
  return { line: p.line, character: p.character };
}

export class NextEditView implements vscode.Disposable {
  private readonly deleted = vscode.window.createTextEditorDecorationType({
    textDecoration: "line-through",
    backgroundColor: new vscode.ThemeColor("diffEditor.removedTextBackground"),
  });
  // The new text comes in an `after` attachment set per decoration (renderOptions).
  private readonly inserted = vscode.window.createTextEditorDecorationType({});
  private readonly session = new NextEditSession();
  private readonly subscriptions: vscode.Disposable[];
  private editor: vscode.TextEditor | undefined;
  private pending: vscode.CancellationTokenSource | undefined;
  /** The value NEXT_EDIT_VISIBLE was last set to. */
  private visible = false;

  constructor(
    private readonly client: () => LanguageClient | undefined,
    private readonly settings: () => ExtensionSettings,
  ) {
    this.subscriptions = [
      this.deleted,
      this.inserted,
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.contentChanges.length === 0) {
          return;
        }
        const editor = vscode.window.activeTextEditor;
        if (editor?.document === e.document || this.editor?.document === e.document) {
          // What is shown (or on its way) was computed for the version before this change.
          this.pending?.cancel();
          this.session.changed();
          this.redraw();
        }
        if (editor?.document === e.document) {
          void this.ask(editor);
        }
      }),
      vscode.window.onDidChangeTextEditorSelection((e) => {
        if (e.textEditor === this.editor && e.selections[0]) {
          this.session.cursorMoved(toPos(e.selections[0].active));
        }
      }),
      // Only what is shown in another editor goes: VS Code may report the editor a test or a
      // user just opened after its first change, whose request must stay out (`ask` checks
      // that the editor is still the active one when the answer comes).
      vscode.window.onDidChangeActiveTextEditor((active) => {
        if (this.editor && active !== this.editor) {
          this.session.dismiss();
          this.redraw();
        }
      }),
      vscode.commands.registerCommand("fimLsp.nextEditTab", () => this.tab()),
      vscode.commands.registerCommand("fimLsp.hideNextEdit", () => this.hide()),
    ];
  }

  /** The edit drawn now (for the end-to-end suite), or undefined. */
  get current(): NextEdit | undefined {
    return this.session.shown;
  }

  get phase(): string {
    return this.session.phase;
  }

  hide(): void {
    this.pending?.cancel();
    this.session.dismiss();
    this.redraw();
  }

  dispose(): void {
    this.hide();
    for (const s of this.subscriptions) {
      s.dispose();
    }
  }

  /** After the debounce, asks for the edits that follow the change at the cursor. */
  private async ask(editor: vscode.TextEditor): Promise<void> {
    const settings = this.settings();
    const client = this.client();
    if (!settings.nextEdit || !client?.isRunning() || !isLanguageEnabled(settings, editor.document.languageId)) {
      return;
    }
    const source = new vscode.CancellationTokenSource();
    this.pending = source;
    if (!(await delay(NEXT_EDIT_DEBOUNCE_MS, source.token))) {
      return;
    }
    const doc = editor.document;
    const version = doc.version;
    const ticket = this.session.ask(version);
    let result: unknown;
    try {
      result = await client.sendRequest(
        INLINE_EDIT_METHOD,
        {
          textDocument: { uri: doc.uri.toString(), version },
          position: toPos(editor.selection.active),
        },
        source.token,
      );
    } catch {
      return; // cancelled by a newer change, or the server went away
    }
    if (source.token.isCancellationRequested || vscode.window.activeTextEditor !== editor) {
      return;
    }
    const edits = parseEdits(result, doc.uri.toString(), version);
    if (this.session.answer(ticket, doc.version, edits, toPos(editor.selection.active))) {
      this.editor = editor;
      this.redraw();
    }
  }

  /** Tab: to the edit, or (on it) apply it and put the cursor after its new text. */
  private async tab(): Promise<void> {
    const editor = this.editor;
    if (!editor) {
      return;
    }
    const action = this.session.tab(toPos(editor.selection.active), editor.document.version);
    if (action.kind === "jump") {
      const to = toPosition(action.to);
      editor.selection = new vscode.Selection(to, to);
      editor.revealRange(new vscode.Range(to, to), vscode.TextEditorRevealType.InCenterIfOutsideViewport);
      return;
    }
    this.redraw();
    if (action.kind === "accept") {
      const { edit } = action;
      const change = new vscode.WorkspaceEdit();
      change.replace(editor.document.uri, new vscode.Range(toPosition(edit.start), toPosition(edit.end)), edit.text);
      if (await vscode.workspace.applyEdit(change)) {
        const end = toPosition(action.cursor);
        editor.selection = new vscode.Selection(end, end);
      }
    }
  }

  /** Draws what the session shows (or nothing) and sets the context key to match. */
  private redraw(): void {
    const edit = this.session.shown;
    const editor = this.editor;
    if (editor) {
      const d = edit && drawingOf(edit);
      const deleted = d?.deleted ? [new vscode.Range(toPosition(d.deleted.start), toPosition(d.deleted.end))] : [];
      const inserted: vscode.DecorationOptions[] = d?.inserted
        ? [
            {
              range: new vscode.Range(toPosition(d.inserted.at), toPosition(d.inserted.at)),
              renderOptions: {
                after: {
                  contentText: d.inserted.label,
                  color: new vscode.ThemeColor("gitDecoration.addedResourceForeground"),
                  backgroundColor: new vscode.ThemeColor("diffEditor.insertedTextBackground"),
                },
              },
            },
          ]
        : [];
      editor.setDecorations(this.deleted, deleted);
      editor.setDecorations(this.inserted, inserted);
    }
    if (!edit) {
      this.editor = undefined;
    }
    if (this.visible !== (edit !== undefined)) {
      this.visible = edit !== undefined;
      void vscode.commands.executeCommand("setContext", NEXT_EDIT_VISIBLE, this.visible);
    }
  }
}
