// The only file besides extension.ts/server.ts/statusBar.ts that touches the `vscode` module.
// Everything the pure modules need from VS Code goes through these few functions.
import { readFileSync } from "fs";
import * as path from "path";
import * as vscode from "vscode";
import { Backend, ExtensionSettings, backendNames, readSettings } from "../settings";

export const SECTION = "fimLsp";

let backends: readonly Backend[] | undefined;

export function getSettings(scope?: vscode.ConfigurationScope): ExtensionSettings {
  const config = vscode.workspace.getConfiguration(SECTION, scope);
  // out/common/ -> the extension's root, in the checkout and in the .vsix alike.
  backends ??= backendNames(JSON.parse(readFileSync(path.join(__dirname, "../../package.json"), "utf8")));
  return readSettings((key) => config.get(key), backends);
}

/** Writes a setting where the user already set it (folder, workspace), else globally. */
export async function updateSetting(key: string, value: unknown): Promise<void> {
  const config = vscode.workspace.getConfiguration(SECTION);
  const where = config.inspect(key);
  let target = vscode.ConfigurationTarget.Global;
  if (where?.workspaceFolderValue !== undefined) {
    target = vscode.ConfigurationTarget.WorkspaceFolder;
  } else if (where?.workspaceValue !== undefined) {
    target = vscode.ConfigurationTarget.Workspace;
  }
  await config.update(key, value, target);
}

export function firstWorkspaceFolder(): string | undefined {
  return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
}

export function registerCommand(
  command: string,
  callback: (...args: unknown[]) => unknown,
): vscode.Disposable {
  return vscode.commands.registerCommand(command, callback);
}
