import * as vscode from "vscode";
import { Progress, ServerState, StatusSnapshot, present } from "./status";

/** The status bar item; holds the last snapshot and redraws it on every change. */
export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private snapshot: StatusSnapshot;

  constructor(suggestionsEnabled: boolean) {
    this.item = vscode.window.createStatusBarItem("fimLsp.status", vscode.StatusBarAlignment.Right, 100);
    this.item.name = "fim-lsp";
    this.snapshot = { state: "starting", message: "", model: "", suggestionsEnabled };
    this.render();
    this.item.show();
  }

  get current(): Readonly<StatusSnapshot> {
    return this.snapshot;
  }

  setState(state: ServerState, message = "", model?: string): void {
    this.snapshot = {
      ...this.snapshot,
      state,
      message,
      model: model ?? this.snapshot.model,
      // A new state ends any progress shown for the old one.
      progress: state === "loading" || state === "starting" ? this.snapshot.progress : undefined,
    };
    this.render();
  }

  setProgress(progress: Progress | undefined): void {
    this.snapshot = { ...this.snapshot, progress };
    if (progress && this.snapshot.state !== "starting") {
      this.snapshot.state = "loading";
    }
    this.render();
  }

  setSuggestionsEnabled(on: boolean): void {
    this.snapshot = { ...this.snapshot, suggestionsEnabled: on };
    this.render();
  }

  private render(): void {
    const view = present(this.snapshot);
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.command = view.command;
    this.item.backgroundColor =
      view.kind === "error"
        ? new vscode.ThemeColor("statusBarItem.errorBackground")
        : view.kind === "warning"
          ? new vscode.ThemeColor("statusBarItem.warningBackground")
          : undefined;
  }

  dispose(): void {
    this.item.dispose();
  }
}
