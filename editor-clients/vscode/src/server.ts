// Starts, restarts and stops the language client, and keeps the server's settings current.
import * as fs from "fs";
import * as vscode from "vscode";
import {
  ConfigurationParams,
  ConfigurationRequest,
  DidChangeConfigurationNotification,
  LanguageClient,
  LanguageClientOptions,
  RevealOutputChannelOn,
  ServerOptions,
  State,
  TransportKind,
  WorkDoneProgressBegin,
  WorkDoneProgressEnd,
  WorkDoneProgressReport,
} from "vscode-languageclient/node";
import { delay } from "./common/delay";
import { DedentPreview } from "./dedentPreview";
import { lspTriggerKind } from "./common/triggerKind";
import { NextEditView } from "./nextEditView";
import { CursorReporter } from "./cursor";
import { SECTION, firstWorkspaceFolder, getSettings, updateSetting } from "./common/vscodeapi";
import {
  installCommandLine,
  missingServerMessage,
  portablePath,
  resolveCommand,
  serverCandidates,
  serverSettingsCommand,
} from "./resolve";
import {
  ExtensionSettings,
  ServerSettings,
  isLanguageEnabled,
  needsRestart,
  toServerSettings,
} from "./settings";
import { parseStatusNotification } from "./status";
import { StatusBar } from "./statusBar";

export const STATUS_NOTIFICATION = "fimLsp/status";
// How long a stopping server may take to answer shutdown and exit: fim-lsp closes its engine
// first, which waits for a model load or a run in progress (seconds on a busy CPU).
// vscode-languageclient's default, 2 s, logs "Stopping server timed out" as an error.
export const STOP_TIMEOUT_MS = 15_000;

export interface InlineItemsEvent {
  document: vscode.TextDocument;
  version: number;
  position: vscode.Position;
  items: vscode.InlineCompletionItem[];
}

function isExecutableFile(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The absolute path of the configured server command, or undefined when it is missing. */
export function findServer(settings: ExtensionSettings): string | undefined {
  for (const candidate of serverCandidates(settings.serverPath, process.env)) {
    const found = resolveCommand(candidate, process.env, isExecutableFile, firstWorkspaceFolder());
    if (found) {
      return found;
    }
  }
  return undefined;
}

export class FimServer implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private settings: ExtensionSettings = getSettings();
  /** The initializationOptions the running server was started with. */
  private startedWith: ServerSettings | undefined;
  private missingShown = false;
  private readonly inlineItems = new vscode.EventEmitter<InlineItemsEvent>();
  private readonly configurationAnswers = new vscode.EventEmitter<ServerSettings[]>();
  /** Fires with the items the server returned for an inline-completion request. */
  readonly onInlineItems = this.inlineItems.event;
  /** Fires with what the server was told when it pulled workspace/configuration `fimLsp`. */
  readonly onConfigurationAnswered = this.configurationAnswers.event;
  /** Dedents drawn where they land (VS Code's ghost text would draw them at the cursor). */
  readonly dedents = new DedentPreview();
  /** Next-edit suggestions (fimLsp/inlineEdit) drawn with decorations, when fimLsp.nextEdit is on. */
  readonly nextEdits = new NextEditView(
    () => this.client,
    () => this.settings,
  );
  /** Where the cursor rests, told to the server (fimLsp/cursor) so the prompt there is warm. */
  readonly cursors = new CursorReporter(
    () => this.client,
    () => this.settings,
  );
  /** Why stopping a server failed, each time it did (the end-to-end suite reads it). */
  readonly stopErrors: string[] = [];

  constructor(
    private readonly log: vscode.LogOutputChannel,
    private readonly status: StatusBar,
  ) {}

  get languageClient(): LanguageClient | undefined {
    return this.client;
  }

  get currentSettings(): ExtensionSettings {
    return this.settings;
  }

  async start(): Promise<void> {
    this.settings = getSettings();
    this.status.setSuggestionsEnabled(this.settings.enabled);
    const command = findServer(this.settings);
    if (!command) {
      const message = missingServerMessage(this.settings.serverPath);
      this.log.error(message);
      this.status.setState("missing", message);
      void this.offerFixes(message);
      return;
    }
    this.missingShown = false;
    this.log.info(`starting ${command} ${this.settings.serverArgs.join(" ")}`.trim());
    const initializationOptions = toServerSettings(this.settings);

    const serverOptions: ServerOptions = {
      command,
      args: this.settings.serverArgs,
      transport: TransportKind.stdio,
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: "file" }, { scheme: "untitled" }],
      outputChannel: this.log,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      initializationOptions,
      middleware: {
        workspace: {
          configuration: (params, token, next) => this.answerConfiguration(params, token, next),
        },
        provideInlineCompletionItems: async (document, position, context, token, next) => {
          if (!isLanguageEnabled(this.settings, document.languageId)) {
            return null;
          }
          if (
            context.triggerKind === vscode.InlineCompletionTriggerKind.Automatic &&
            !(await delay(this.settings.debounceMs, token))
          ) {
            return null;
          }
          const fixed = { ...context, triggerKind: lspTriggerKind(context.triggerKind) };
          const result = await next(document, position, fixed as vscode.InlineCompletionContext, token);
          const items = Array.isArray(result) ? result : (result?.items ?? []);
          this.inlineItems.fire({ document, version: document.version, position, items });
          return this.dedents.take(document, position, items);
        },
        // The ghost text is the product in VS Code (as with Copilot, which adds no menu items):
        // an item of fim-lsp's in the suggest widget too would show a second suggestion at the
        // same place, drawn over the ghost text, and Tab would take the menu's.
        provideCompletionItem: () => undefined,
        handleWorkDoneProgress: (token, params, next) => {
          this.showProgress(params);
          next(token, params);
        },
      },
    };

    const client = new LanguageClient("fimLsp", "fim-lsp", serverOptions, clientOptions);
    // vscode-languageclient 9 ships inline completion as a proposed feature: without this
    // call the client never registers an inline-completion provider and nothing shows.
    client.registerProposedFeatures();
    client.onNotification(STATUS_NOTIFICATION, (params: unknown) => {
      const parsed = parseStatusNotification(params);
      if (parsed) {
        this.status.setState(parsed.state, parsed.message, parsed.model);
      }
    });
    client.onDidChangeState((event) => {
      if (event.newState === State.Stopped && this.client === client) {
        this.status.setState("stopped", "The server exited; see the log.");
      }
    });
    this.client = client;
    this.startedWith = initializationOptions;
    this.status.setState("starting", "Starting server");
    try {
      await client.start();
      if (this.status.current.state === "starting") {
        this.status.setState("loading", "Loading model");
      }
    } catch (err) {
      const message = `fim-lsp: the server failed to start: ${String(err)}`;
      this.log.error(message);
      this.status.setState("error", message);
    }
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client && client.state !== State.Stopped) {
      try {
        await client.stop(STOP_TIMEOUT_MS);
      } catch (err) {
        this.stopErrors.push(String(err));
        this.log.warn(`stopping the server: ${String(err)}`);
      }
    }
  }

  async restart(): Promise<void> {
    this.missingShown = false;
    await this.stop();
    await this.start();
  }

  /**
   * Settings changed: restart for a new command or for a start-up setting that was cleared,
   * else hand the server its new settings.
   */
  async onConfigurationChanged(): Promise<void> {
    const next = getSettings();
    if (needsRestart(this.settings, next, this.startedWith) || !this.client) {
      await this.restart();
      return;
    }
    this.settings = next;
    this.status.setSuggestionsEnabled(next.enabled);
    if (this.client.state === State.Running) {
      // The server re-pulls workspace/configuration; the payload is for servers that don't.
      await this.client.sendNotification(DidChangeConfigurationNotification.type, {
        settings: { [SECTION]: toServerSettings(next) },
      });
    }
  }

  private answerConfiguration(
    params: ConfigurationParams,
    token: vscode.CancellationToken,
    next: ConfigurationRequest.HandlerSignature,
  ): ReturnType<ConfigurationRequest.MiddlewareSignature> {
    // The server asks for section `fimLsp` and expects its own key names (nThreads, ...), not
    // the extension's, so those items are answered here; others go to the default handler.
    const ours = params.items.map((item) => item.section === SECTION);
    if (!ours.some(Boolean)) {
      return next(params, token);
    }
    const answer = params.items.map((item, i) => {
      if (!ours[i]) {
        return vscode.workspace.getConfiguration(item.section ?? undefined).get("") ?? null;
      }
      const scope = item.scopeUri ? vscode.Uri.parse(item.scopeUri) : undefined;
      return toServerSettings(getSettings(scope));
    });
    this.configurationAnswers.fire(answer.filter((_, i) => ours[i]) as ServerSettings[]);
    return answer;
  }

  private showProgress(
    params: WorkDoneProgressBegin | WorkDoneProgressReport | WorkDoneProgressEnd,
  ): void {
    if (params.kind === "end") {
      this.status.setProgress(undefined);
      return;
    }
    const title = params.kind === "begin" ? params.title : (this.status.current.progress?.title ?? "");
    this.status.setProgress({ title, message: params.message, percentage: params.percentage });
  }

  private async offerFixes(message: string): Promise<void> {
    if (this.missingShown) {
      return;
    }
    this.missingShown = true;
    const choose = "Choose File…";
    const install = "Install…";
    const settings = "Open Settings";
    const picked = await vscode.window.showErrorMessage(message, choose, install, settings);
    if (picked === choose) {
      const files = await vscode.window.showOpenDialog({
        canSelectMany: false,
        openLabel: "Use this fim-lsp",
        title: "The fim-lsp executable (e.g. ~/.local/bin/fim-lsp)",
      });
      if (files?.[0]) {
        await updateSetting("server.path", portablePath(files[0].fsPath, process.env.HOME));
      }
    } else if (picked === install) {
      await this.runInstallScript();
    } else if (picked === settings) {
      const open = serverSettingsCommand(vscode.env.remoteName);
      await vscode.commands.executeCommand(open.command, open.arg);
    }
  }

  /** Runs a checkout's scripts/install.sh in a terminal (on the machine the server runs on). */
  private async runInstallScript(): Promise<void> {
    const folders = await vscode.window.showOpenDialog({
      canSelectFiles: false,
      canSelectFolders: true,
      canSelectMany: false,
      openLabel: "Install from this checkout",
      title: "Your fim-lsp checkout (the folder with scripts/install.sh)",
    });
    const checkout = folders?.[0]?.fsPath;
    if (!checkout) {
      return;
    }
    if (!fs.existsSync(`${checkout}/scripts/install.sh`)) {
      void vscode.window.showErrorMessage(`fim-lsp: ${checkout} has no scripts/install.sh; pick a fim-lsp checkout.`);
      return;
    }
    const terminal = vscode.window.createTerminal("fim-lsp install");
    terminal.show();
    terminal.sendText(installCommandLine(checkout));
    const restart = "Restart Server";
    const picked = await vscode.window.showInformationMessage(
      "fim-lsp: the install runs in the terminal (the first one builds llama.cpp: 5 to 15 minutes). " +
        "When it is done, restart the server.",
      restart,
    );
    if (picked === restart) {
      await this.restart();
    }
  }

  dispose(): void {
    this.inlineItems.dispose();
    this.dedents.dispose();
    this.nextEdits.dispose();
    this.cursors.dispose();
    this.configurationAnswers.dispose();
    void this.stop();
  }
}
