// Tells the server where the cursor rests (fimLsp/cursor) a moment after it stops without an
// edit: the server evaluates the prompt a request there would have while the user reads, so
// the first suggestion after opening a file or jumping in it comes from the full window, and
// soon (without it: a small cold-start window, or a wait). The rules are in cursorRest.ts.
import * as vscode from "vscode";
import { State, type LanguageClient } from "vscode-languageclient/node";
import { CURSOR_METHOD, CURSOR_REST_MS, CursorRest } from "./cursorRest";
import { ExtensionSettings, isLanguageEnabled } from "./settings";

const SCHEMES = new Set(["file", "untitled"]); // the documents the client syncs (server.ts)

export class CursorReporter implements vscode.Disposable {
  private readonly rest = new CursorRest();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly subscriptions: vscode.Disposable[];
  /** How many reports went to the server (the end-to-end suite reads it). */
  sent = 0;

  constructor(
    private readonly client: () => LanguageClient | undefined,
    private readonly settings: () => ExtensionSettings,
  ) {
    this.subscriptions = [
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.contentChanges.length > 0) {
          this.rest.edited(e.document.uri.toString(), Date.now());
        }
      }),
      vscode.workspace.onDidCloseTextDocument((doc) => this.rest.forget(doc.uri.toString())),
      vscode.window.onDidChangeTextEditorSelection((e) => this.moved(e.textEditor)),
      vscode.window.onDidChangeActiveTextEditor((editor) => editor && this.moved(editor)),
    ];
  }

  private moved(editor: vscode.TextEditor): void {
    clearTimeout(this.timer);
    const since = Date.now();
    if (this.rest.moved(editor.document.uri.toString(), since)) {
      this.timer = setTimeout(() => this.report(editor, since), CURSOR_REST_MS);
    }
  }

  private report(editor: vscode.TextEditor, since: number): void {
    const client = this.client();
    const doc = editor.document;
    if (
      !client ||
      client.state !== State.Running ||
      vscode.window.activeTextEditor !== editor ||
      !SCHEMES.has(doc.uri.scheme) ||
      !isLanguageEnabled(this.settings(), doc.languageId) ||
      !this.rest.due(doc.uri.toString(), since)
    ) {
      return;
    }
    const at = editor.selection.active;
    this.sent += 1;
    void client.sendNotification(CURSOR_METHOD, {
      textDocument: { uri: client.code2ProtocolConverter.asUri(doc.uri) },
      position: { line: at.line, character: at.character },
    });
  }

  dispose(): void {
    clearTimeout(this.timer);
    for (const s of this.subscriptions) {
      s.dispose();
    }
  }
}
