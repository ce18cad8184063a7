import { execFile, spawn } from "child_process";
import * as vscode from "vscode";
import { SECTION, getSettings, registerCommand, updateSetting } from "./common/vscodeapi";
import { lastLine, parseModelList } from "./models";
import { missingServerMessage } from "./resolve";
import { FimServer, findServer } from "./server";
import { StatusBar } from "./statusBar";

let server: FimServer | undefined;

/** What activate() returns: used by the end-to-end suite, harmless to anyone else. */
export interface FimLspApi {
  readonly server: FimServer;
  readonly status: StatusBar;
}

export async function activate(context: vscode.ExtensionContext): Promise<FimLspApi> {
  const log = vscode.window.createOutputChannel("fim-lsp", { log: true });
  const status = new StatusBar(getSettings().enabled);
  const fim = new FimServer(log, status);
  server = fim;
  context.subscriptions.push(
    log,
    status,
    fim,
    registerCommand("fimLsp.toggle", () => updateSetting("enabled", !getSettings().enabled)),
    registerCommand("fimLsp.showLog", () => log.show(true)),
    registerCommand("fimLsp.restart", () => fim.restart()),
    registerCommand("fimLsp.pickModel", () => pickModel(log)),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration(SECTION)) {
        void fim.onConfigurationChanged();
      }
    }),
  );
  await fim.start();
  return { server: fim, status };
}

export async function deactivate(): Promise<void> {
  await server?.stop();
  server = undefined;
}

function runToText(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: 60_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`${command} ${args.join(" ")}: ${stderr.trim() || err.message}`));
      } else {
        resolve(stdout);
      }
    });
  });
}

interface ModelPick extends vscode.QuickPickItem {
  action: "preset" | "file";
  name?: string;
}

async function pickModel(log: vscode.LogOutputChannel): Promise<void> {
  const settings = getSettings();
  const command = findServer(settings);
  if (!command) {
    void vscode.window.showErrorMessage(missingServerMessage(settings.serverPath));
    return;
  }
  let listing: string;
  try {
    listing = await runToText(command, ["model", "list"]);
  } catch (err) {
    log.error(String(err));
    void vscode.window.showErrorMessage(`fim-lsp: could not list models: ${String(err)}`);
    return;
  }
  const items: ModelPick[] = parseModelList(listing).map((entry) => ({
    label: entry.name,
    description: entry.name === settings.model ? "(in use)" : undefined,
    detail: entry.description,
    action: "preset",
    name: entry.name,
  }));
  items.push({ label: "", kind: vscode.QuickPickItemKind.Separator, action: "file" });
  items.push({ label: "$(file) Choose a .gguf file…", action: "file" });
  const picked = await vscode.window.showQuickPick(items, {
    title: "fim-lsp: pick a model (presets are downloaded if needed)",
    matchOnDetail: true,
  });
  if (!picked) {
    return;
  }
  if (picked.action === "file") {
    const files = await vscode.window.showOpenDialog({
      canSelectMany: false,
      filters: { "GGUF model": ["gguf"] },
      openLabel: "Use this model",
    });
    if (files?.[0]) {
      await updateSetting("model", files[0].fsPath);
    }
    return;
  }
  const name = picked.name!;
  const ok = await pullModel(command, name, log);
  if (ok) {
    await updateSetting("model", name);
    void vscode.window.showInformationMessage(`fim-lsp: now using ${name}.`);
  }
}

/** Runs `fim-lsp model pull NAME` with a cancellable progress notification. */
function pullModel(command: string, name: string, log: vscode.LogOutputChannel): Promise<boolean> {
  return Promise.resolve(
    vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `fim-lsp: pulling ${name}`,
        cancellable: true,
      },
      (progress, token) =>
        new Promise<boolean>((resolve) => {
          log.info(`${command} model pull ${name}`);
          const child = spawn(command, ["model", "pull", name], { stdio: ["ignore", "pipe", "pipe"] });
          const onData = (chunk: Buffer) => {
            const text = chunk.toString();
            log.append(text);
            const line = lastLine(text);
            if (line) {
              progress.report({ message: line });
            }
          };
          child.stdout.on("data", onData);
          child.stderr.on("data", onData);
          const cancel = token.onCancellationRequested(() => child.kill("SIGTERM"));
          child.on("error", (err) => {
            cancel.dispose();
            void vscode.window.showErrorMessage(`fim-lsp: model pull failed: ${err.message}`);
            resolve(false);
          });
          child.on("close", (code) => {
            cancel.dispose();
            if (code === 0) {
              resolve(true);
            } else {
              if (!token.isCancellationRequested) {
                void vscode.window.showErrorMessage(
                  `fim-lsp: model pull ${name} failed (exit ${code}); see “fim-lsp: Show Server Log”.`,
                );
              }
              resolve(false);
            }
          });
        }),
    ),
  );
}
