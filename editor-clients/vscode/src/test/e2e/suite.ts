// End-to-end suite, run inside the real VS Code extension host by test/e2e/run.mjs.
// It talks to the real fim-lsp server and the real model: no mocks.
import * as assert from "assert";
import * as fs from "fs";
import * as vscode from "vscode";
import type { FimLspApi } from "../../extension";
import type { InlineItemsEvent } from "../../server";
import type { ServerSettings } from "../../settings";

const EXTENSION_ID = "fim-lsp.fim-lsp";
const MODEL_TIMEOUT_MS = Number(process.env.FIM_LSP_E2E_MODEL_TIMEOUT_MS ?? 240_000);
const SUGGEST_TIMEOUT_MS = Number(process.env.FIM_LSP_E2E_SUGGEST_TIMEOUT_MS ?? 120_000);

const resultFile = process.env.FIM_LSP_E2E_RESULT;
const logFile = resultFile ? `${resultFile}.log` : undefined;

function log(line: string): void {
  const stamped = `[e2e ${new Date().toISOString().slice(11, 19)}] ${line}`;
  console.log(stamped);
  if (logFile) {
    fs.appendFileSync(logFile, stamped + "\n");
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor<T>(what: string, ms: number, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    }
    await sleep(250);
  }
}

function nextEvent<T>(event: vscode.Event<T>, accept: (value: T) => boolean): { value: Promise<T>; dispose(): void } {
  let sub: vscode.Disposable | undefined;
  const value = new Promise<T>((resolve) => {
    sub = event((v) => {
      if (accept(v)) {
        sub?.dispose();
        resolve(v);
      }
    });
  });
  return { value, dispose: () => sub?.dispose() };
}

function withTimeout<T>(what: string, ms: number, promise: Promise<T>): Promise<T> {
  return Promise.race([
    promise,
    sleep(ms).then(() => {
      throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    }),
  ]);
}

/** The document text once the item is applied (what "commit" must produce). */
function applyItem(doc: vscode.TextDocument, item: vscode.InlineCompletionItem, at: vscode.Position): string {
  const text = doc.getText();
  const insert = typeof item.insertText === "string" ? item.insertText : item.insertText.value;
  const range = item.range ?? new vscode.Range(at, at);
  return text.slice(0, doc.offsetAt(range.start)) + insert + text.slice(doc.offsetAt(range.end));
}

interface Triggered {
  doc: vscode.TextDocument;
  line: number;
  at: vscode.Position;
  item: vscode.InlineCompletionItem;
  insert: string;
}

/** Open sample.py, put the cursor at the end of its last line, trigger, await the server's items. */
async function triggerAtEnd(api: FimLspApi): Promise<Triggered> {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, "a workspace folder is open");
  const uri = vscode.Uri.joinPath(folder.uri, "sample.py");
  const doc = await vscode.workspace.openTextDocument(uri);
  assert.strictEqual(doc.languageId, "python");
  const editor = await vscode.window.showTextDocument(doc);
  // VS Code asks for inline suggestions only while the editor has text focus.
  await vscode.commands.executeCommand("workbench.action.focusActiveEditorGroup");
  const line = doc.lineAt(doc.lineCount - 1).text.length === 0 ? doc.lineCount - 2 : doc.lineCount - 1;
  const at = new vscode.Position(line, doc.lineAt(line).text.length);
  editor.selection = new vscode.Selection(at, at);
  log(`cursor at ${line + 1}:${at.character + 1} after ${JSON.stringify(doc.lineAt(line).text)}`);
  const served = nextEvent<InlineItemsEvent>(api.server.onInlineItems, (e) => {
    log(`server answered v${e.version} at ${e.position.line + 1}:${e.position.character + 1}: ${e.items.length} item(s)`);
    return e.document.uri.toString() === uri.toString() && e.items.length > 0;
  });
  let event: InlineItemsEvent;
  try {
    // Not awaited: the command's promise may settle only once the suggestion is shown.
    void vscode.commands.executeCommand("editor.action.inlineSuggest.trigger");
    event = await withTimeout("a non-empty inline completion", SUGGEST_TIMEOUT_MS, served.value);
  } finally {
    served.dispose();
  }
  const item = event.items[0];
  const insert = typeof item.insertText === "string" ? item.insertText : item.insertText.value;
  log(`suggestion: ${JSON.stringify(insert)} range=${JSON.stringify(item.range)}`);
  return { doc, line, at, item, insert };
}

let asked = 0;

/** Asks test/e2e/run.mjs, which drives the browser, to look at the screen or press a key. */
async function askDriver<T>(request: { action: "ghost" | "press"; key?: string; shot?: string }): Promise<T> {
  assert.ok(resultFile, "FIM_LSP_E2E_RESULT is set (run through test/e2e/run.mjs)");
  const n = asked++;
  const answerFile = `${resultFile}.answer-${n}.json`;
  fs.writeFileSync(`${resultFile}.ask-${n}.json.tmp`, JSON.stringify(request));
  fs.renameSync(`${resultFile}.ask-${n}.json.tmp`, `${resultFile}.ask-${n}.json`);
  const answer = await waitFor(`the driver's answer to ${JSON.stringify(request)}`, 30_000, () =>
    fs.existsSync(answerFile) ? (JSON.parse(fs.readFileSync(answerFile, "utf8")) as T & { error?: string }) : undefined,
  );
  if (answer.error) {
    throw new Error(`driver: ${answer.error}`);
  }
  return answer;
}

interface OnScreen {
  focused: boolean;
  ghost: { text: string; column?: number }[];
  cursorColumn?: number;
}

/** Restarts the extension's server as tests/editors/scripted_server.py answering with `rules`. */
async function useScriptedServer(api: FimLspApi, rules: unknown): Promise<void> {
  const script = process.env.FIM_LSP_E2E_SCRIPTED_SERVER;
  assert.ok(script && resultFile, "run.mjs names the scripted server");
  const rulesFile = `${resultFile}.rules.json`;
  fs.writeFileSync(rulesFile, JSON.stringify(rules));
  const config = vscode.workspace.getConfiguration("fimLsp");
  const before = api.server.languageClient;
  await config.update("server.path", script, vscode.ConfigurationTarget.Workspace);
  await config.update("server.args", ["--script", rulesFile], vscode.ConfigurationTarget.Workspace);
  await waitFor("the scripted server running", 60_000, () => {
    const client = api.server.languageClient;
    return client && client !== before && client.isRunning() && api.status.current.model === "scripted"
      ? true
      : undefined;
  });
}

type Test = [name: string, body: (api: FimLspApi) => Promise<void>];

const tests: Test[] = [
  [
    "the server starts and reports the model ready",
    async (api) => {
      const client = await waitFor("the language client", 30_000, () => api.server.languageClient);
      await waitFor("a running client", 60_000, () => (client.isRunning() ? true : undefined));
      const caps = client.initializeResult?.capabilities as Record<string, unknown> | undefined;
      assert.ok(caps?.inlineCompletionProvider, "server advertises inlineCompletionProvider");
      await waitFor(`status "ready" (now: ${api.status.current.state})`, MODEL_TIMEOUT_MS, () =>
        api.status.current.state === "ready" ? true : undefined,
      );
      log(`status: ${api.status.current.state} ${api.status.current.model} ${api.status.current.message}`);
    },
  ],
  [
    "fimLsp.server.path set in User settings starts the server in a remote window",
    async (api) => {
      // README: set the path in User settings. code-server's window is a remote one, where
      // VS Code drops machine-scoped settings from User settings (issue 12).
      const expected = process.env.FIM_LSP_E2E_SERVER;
      assert.ok(expected, "run.mjs names the server it wrote into User settings");
      const where = vscode.workspace.getConfiguration("fimLsp").inspect<string>("server.path");
      log(`remoteName=${vscode.env.remoteName} server.path=${JSON.stringify(where)}`);
      assert.ok(vscode.env.remoteName, "code-server opens a remote window");
      assert.strictEqual(where?.workspaceValue, undefined, "not set in the workspace");
      assert.strictEqual(where?.globalValue, expected, "the User settings value reaches the extension");
      assert.strictEqual(api.server.currentSettings.serverPath, expected);
      assert.ok(api.server.languageClient?.isRunning(), "the server it names is running");
    },
  ],
  [
    "trigger + commit inserts the real model's suggestion",
    async (api) => {
      const { doc, line, at, item, insert } = await triggerAtEnd(api);
      const original = doc.getText();
      assert.ok(insert.trim().length > 0, "the suggestion is not blank");
      const expected = applyItem(doc, item, at);

      // The ghost text appears a moment after the provider answers; commit until it lands.
      await waitFor("the committed suggestion in the buffer", 30_000, async () => {
        await withTimeout("inlineSuggest.commit", 5_000, Promise.resolve(
          vscode.commands.executeCommand("editor.action.inlineSuggest.commit"),
        ));
        return doc.getText() !== original ? true : undefined;
      });
      assert.strictEqual(doc.getText(), expected, "the buffer holds exactly the suggestion");
      log(`buffer line now: ${JSON.stringify(doc.lineAt(line).text)}`);
      await vscode.commands.executeCommand("workbench.action.files.revert");
    },
  ],
  [
    "accept next word takes a strict prefix of the suggestion",
    async (api) => {
      const { doc, line, insert } = await triggerAtEnd(api);
      const before = doc.lineAt(line).text;
      await waitFor("part of the suggestion in the buffer", 30_000, async () => {
        await withTimeout("acceptNextWord", 5_000, Promise.resolve(
          vscode.commands.executeCommand("editor.action.inlineSuggest.acceptNextWord"),
        ));
        return doc.lineAt(line).text !== before ? true : undefined;
      });
      const added = doc.lineAt(line).text.slice(before.length);
      log(`suggestion ${JSON.stringify(insert)}; accepted word ${JSON.stringify(added)}`);
      assert.ok(added.length > 0 && added.length < insert.trimEnd().length, "a part, not all");
      assert.ok(insert.startsWith(added), "the accepted part is the suggestion's start");
      await vscode.commands.executeCommand("workbench.action.files.revert");
    },
  ],
  [
    "a settings change reaches the running server through workspace/configuration",
    async (api) => {
      const config = vscode.workspace.getConfiguration("fimLsp");
      const pulled = nextEvent<ServerSettings[]>(api.server.onConfigurationAnswered, (answer) =>
        answer.some((s) => s.maxTokens === 17),
      );
      const clientBefore = api.server.languageClient;
      try {
        await config.update("maxTokens", 17, vscode.ConfigurationTarget.Workspace);
        const answer = await withTimeout("the server to re-pull fimLsp", 30_000, pulled.value);
        log(`server pulled: ${JSON.stringify(answer)}`);
        assert.strictEqual(answer[0].maxTokens, 17);
        assert.strictEqual(api.server.languageClient, clientBefore, "no restart for a live setting");
      } finally {
        pulled.dispose();
        await config.update("maxTokens", undefined, vscode.ConfigurationTarget.Workspace);
      }
    },
  ],
  [
    "the toggle command turns suggestions off in the status bar and back on",
    async (api) => {
      await vscode.commands.executeCommand("fimLsp.toggle");
      await waitFor("suggestions off", 10_000, () =>
        api.status.current.suggestionsEnabled === false ? true : undefined,
      );
      assert.strictEqual(vscode.workspace.getConfiguration("fimLsp").get("enabled"), false);
      await vscode.commands.executeCommand("fimLsp.toggle");
      await waitFor("suggestions on", 10_000, () =>
        api.status.current.suggestionsEnabled === true ? true : undefined,
      );
    },
  ],
  [
    "a missing server command shows the error state, and fixing the path recovers",
    async (api) => {
      const config = vscode.workspace.getConfiguration("fimLsp");
      const real = config.get<string>("server.path");
      try {
        await config.update("server.path", "/nonexistent/fim-lsp", vscode.ConfigurationTarget.Workspace);
        await waitFor("status missing", 30_000, () => (api.status.current.state === "missing" ? true : undefined));
        assert.match(api.status.current.message, /cannot find the server command "\/nonexistent\/fim-lsp"/);
        assert.strictEqual(api.server.languageClient, undefined, "no client without a server");
      } finally {
        await config.update("server.path", real, vscode.ConfigurationTarget.Workspace);
      }
      await waitFor(`status ready again (now: ${api.status.current.state})`, MODEL_TIMEOUT_MS, () =>
        api.status.current.state === "ready" ? true : undefined,
      );
    },
  ],
  [
    "a dedent on an auto-indented blank line shows as ghost text and Tab accepts it",
    async (api) => {
      // The server's answer at a blank line indented to 8 after a loop body: `return result`
      // at 4, replacing the 4 spaces before the cursor that the line does not keep.
      await useScriptedServer(api, [
        { before: "^ {8}$", after: "^$", items: [{ insertText: "return result", replace: 4 }] },
      ]);
      const folder = vscode.workspace.workspaceFolders?.[0];
      assert.ok(folder);
      const uri = vscode.Uri.joinPath(folder.uri, "dedent.py");
      const lines = ["def total(xs):", "    result = 0", "    for x in xs:", "        result += x", "        "];
      fs.writeFileSync(uri.fsPath, lines.join("\n") + "\n");
      const doc = await vscode.workspace.openTextDocument(uri);
      const editor = await vscode.window.showTextDocument(doc);
      await vscode.commands.executeCommand("workbench.action.focusActiveEditorGroup");
      const at = new vscode.Position(4, 8);
      editor.selection = new vscode.Selection(at, at);
      const served = nextEvent<InlineItemsEvent>(api.server.onInlineItems, (e) => e.items.length > 0);
      let event: InlineItemsEvent;
      try {
        void vscode.commands.executeCommand("editor.action.inlineSuggest.trigger");
        event = await withTimeout("the scripted dedent item", 30_000, served.value);
      } finally {
        served.dispose();
      }
      const item = event.items[0];
      log(`item as handed to VS Code: ${JSON.stringify(item.insertText)} range=${JSON.stringify(item.range)}`);
      // Look, take a screenshot and press Tab whatever is seen, so that one run tells it all.
      // The ghost text comes in one span per syntax token ("return", " result"), spaces drawn
      // as no-break spaces.
      const shown = (s: OnScreen) => s.ghost.map((g) => g.text).join("").replace(/\u00a0/g, " ") === "return result";
      const deadline = Date.now() + 15_000;
      let screen = await askDriver<OnScreen>({ action: "ghost" });
      while (!shown(screen) && Date.now() < deadline) {
        await sleep(250);
        screen = await askDriver<OnScreen>({ action: "ghost" });
      }
      await askDriver({ action: "ghost", shot: "dedent-ghost" });
      log(`on screen: ${JSON.stringify(screen)}`);
      await vscode.commands.executeCommand("workbench.action.focusActiveEditorGroup");
      await askDriver({ action: "press", key: "Tab" });
      const want = [...lines.slice(0, 4), "    return result", ""].join("\n");
      await waitFor("the dedented line in the buffer", 10_000, () => (doc.getText() === want ? true : undefined)).catch(
        (err: Error) => log(`after Tab: ${JSON.stringify(doc.getText())} (${err.message})`),
      );
      await askDriver({ action: "ghost", shot: "dedent-accepted" });
      assert.ok(shown(screen), `ghost text "return result" on screen: ${JSON.stringify(screen)}`);
      // VS Code draws ghost text only from the cursor on: a dedent's text shows at the cursor
      // (column 8) and lands at its own indentation (4) when accepted.
      assert.strictEqual(screen.ghost[0].column, 8, "the ghost text starts at the cursor");
      assert.strictEqual(doc.getText(), want, "Tab applies the dedent");
      const end = editor.selection.active;
      assert.deepStrictEqual([end.line, end.character], [4, "    return result".length], "cursor after the line");
      await vscode.commands.executeCommand("workbench.action.files.revert");
    },
  ],
];

/** Entry point: VS Code calls this for extensionTestsPath; a throw means failure. */
export async function run(): Promise<void> {
  const ext = vscode.extensions.getExtension<FimLspApi>(EXTENSION_ID);
  assert.ok(ext, `extension ${EXTENSION_ID} is loaded`);
  const api = await ext.activate();
  const results: { name: string; ok: boolean; error?: string; ms: number }[] = [];
  const only = process.env.FIM_LSP_E2E_ONLY;
  for (const [name, body] of tests.filter(([n]) => !only || n.includes(only))) {
    const started = Date.now();
    log(`RUN  ${name}`);
    try {
      await body(api);
      results.push({ name, ok: true, ms: Date.now() - started });
      log(`PASS ${name} (${Date.now() - started} ms)`);
    } catch (err) {
      const error = err instanceof Error ? (err.stack ?? err.message) : String(err);
      results.push({ name, ok: false, error, ms: Date.now() - started });
      log(`FAIL ${name}: ${error}`);
    }
  }
  const failed = results.filter((r) => !r.ok).length;
  log(`${results.length - failed} passed, ${failed} failed`);
  if (resultFile) {
    fs.writeFileSync(resultFile, JSON.stringify({ results }, null, 2));
  }
  if (failed) {
    throw new Error(`${failed} of ${results.length} e2e tests failed`);
  }
}
