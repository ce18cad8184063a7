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
  /** VS Code's own ghost text. */
  ghost: { text: string; column?: number }[];
  /** Text decorations put on the cursor line (`before`/`after` content), as the extension's
   * dedent preview is drawn. */
  injected: { text: string; column?: number; color: string }[];
  /** Text drawn struck through (the range a next edit replaces). */
  struck: string[];
  cursorColumn?: number;
}

let scripted = 0;

/** Restarts the extension's server as tests/editors/scripted_server.py answering with `rules`
 * (a new rules file each time: new arguments, so a restart). */
async function useScriptedServer(api: FimLspApi, rules: unknown, extraArgs: string[] = []): Promise<void> {
  const script = process.env.FIM_LSP_E2E_SCRIPTED_SERVER;
  assert.ok(script && resultFile, "run.mjs names the scripted server");
  const rulesFile = `${resultFile}.rules-${scripted++}.json`;
  fs.writeFileSync(rulesFile, JSON.stringify(rules));
  const config = vscode.workspace.getConfiguration("fimLsp");
  const before = api.server.languageClient;
  await config.update("server.path", script, vscode.ConfigurationTarget.Workspace);
  await config.update("server.args", ["--script", rulesFile, ...extraArgs], vscode.ConfigurationTarget.Workspace);
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
    "a cursor resting without an edit is reported, and the server warms the prompt there",
    async (api) => {
      const client = await waitFor("the language client", 30_000, () => api.server.languageClient);
      const prewarmed = async () => ((await client.sendRequest("fimLsp/stats")) as { prewarmed: number }).prewarmed;
      const folder = vscode.workspace.workspaceFolders?.[0];
      assert.ok(folder, "a workspace folder is open");
      const doc = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(folder.uri, "sample.py"));
      const editor = await vscode.window.showTextDocument(doc);
      await sleep(2_000); // the file's own prewarm on opening it, and the report of where it opened
      const [sent, before] = [api.server.cursors.sent, await prewarmed()];
      const at = new vscode.Position(Math.max(0, doc.lineCount - 2), 0);
      editor.selection = new vscode.Selection(at, at);
      await waitFor("the cursor reported", 10_000, () => (api.server.cursors.sent > sent ? true : undefined));
      const after = await waitFor("the server's prewarm at the cursor", 60_000, async () => {
        const n = await prewarmed();
        return n > before ? n : undefined;
      });
      log(`cursor reports ${sent} -> ${api.server.cursors.sent}; server prewarms ${before} -> ${after}`);
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
      log(`item from the server: ${JSON.stringify(item.insertText)} range=${JSON.stringify(item.range)}`);
      // Look, take a screenshot and press Tab whatever is seen, so that one run tells it all.
      const shown = (s: OnScreen) => s.injected.some((g) => g.text === "return result");
      const deadline = Date.now() + 15_000;
      let screen = await askDriver<OnScreen>({ action: "ghost" });
      while (!shown(screen) && Date.now() < deadline) {
        await sleep(250);
        screen = await askDriver<OnScreen>({ action: "ghost" });
      }
      await askDriver({ action: "ghost", shot: "dedent-ghost" });
      log(`on screen: ${JSON.stringify(screen)}`);
      const preview = api.server.dedents.current;
      await vscode.commands.executeCommand("workbench.action.focusActiveEditorGroup");
      await askDriver({ action: "press", key: "Tab" });
      const want = [...lines.slice(0, 4), "    return result", ""].join("\n");
      await waitFor("the dedented line in the buffer", 10_000, () => (doc.getText() === want ? true : undefined)).catch(
        (err: Error) => log(`after Tab: ${JSON.stringify(doc.getText())} (${err.message})`),
      );
      const after = await askDriver<OnScreen>({ action: "ghost", shot: "dedent-accepted" });
      log(`after Tab on screen: ${JSON.stringify(after)}`);
      assert.deepStrictEqual(preview && [preview.column, preview.shown], [4, "return result"], "the preview's place");
      // Drawn where Tab puts it (column 4, outside the loop), in the ghost text colour, and
      // nothing at the cursor: VS Code's own ghost text would draw it at column 8.
      const drawn = screen.injected.filter((g) => g.text === "return result");
      assert.strictEqual(drawn.length, 1, `"return result" drawn once: ${JSON.stringify(screen)}`);
      assert.strictEqual(drawn[0].column, 4, "the preview starts at column 4, where the line lands");
      assert.strictEqual(screen.ghost.length, 0, `no ghost text at the cursor: ${JSON.stringify(screen.ghost)}`);
      assert.strictEqual(screen.cursorColumn, 4 + "return result".length, "the cursor shows after the preview");
      assert.strictEqual(doc.getText(), want, "Tab applies the dedent");
      const end = editor.selection.active;
      assert.deepStrictEqual([end.line, end.character], [4, "    return result".length], "cursor after the line");
      assert.strictEqual(after.injected.length, 0, "no preview left once accepted");
      await vscode.commands.executeCommand("workbench.action.files.revert");
    },
  ],
  [
    "a next edit away from the cursor is drawn; Tab jumps, Tab accepts; Escape dismisses; Tab stays Tab",
    async (api) => {
      // `size` renamed to `factor` in the def line: the server proposes its use on line 4.
      await useScriptedServer(api, [
        { before: "^def scale\\(factor$", edits: [{ start: [3, 23], end: [3, 27], text: "factor" }] },
      ]);
      const config = vscode.workspace.getConfiguration("fimLsp");
      await config.update("nextEdit", true, vscode.ConfigurationTarget.Workspace);
      try {
        const folder = vscode.workspace.workspaceFolders?.[0];
        assert.ok(folder);
        const uri = vscode.Uri.joinPath(folder.uri, "scale.py");
        const lines = ["def scale(size, xs):", "    out = []", "    for x in xs:", "        out.append(x * size)", "    return out"];
        fs.writeFileSync(uri.fsPath, lines.join("\n") + "\n");
        const doc = await vscode.workspace.openTextDocument(uri);
        const editor = await vscode.window.showTextDocument(doc);
        await vscode.commands.executeCommand("workbench.action.focusActiveEditorGroup");
        const renamed = ["def scale(factor, xs):", ...lines.slice(1)];
        const rename = async () => {
          await editor.edit((e) => e.replace(new vscode.Range(0, 10, 0, 14), "factor"));
          const end = new vscode.Position(0, 16);
          editor.selection = new vscode.Selection(end, end);
          await waitFor("the next edit shown", 15_000, () => api.server.nextEdits.current).catch((err: Error) => {
            const client = api.server.languageClient;
            log(`no next edit: nextEdit=${api.server.currentSettings.nextEdit} running=${client?.isRunning()} ` +
              `active=${vscode.window.activeTextEditor?.document.uri.path} version=${doc.version} ` +
              `text=${JSON.stringify(doc.getText())} cursor=${JSON.stringify(editor.selection.active)}`);
            throw err;
          });
        };
        const text = (rows: string[]) => rows.join("\n") + "\n";

        await rename();
        assert.deepStrictEqual(api.server.nextEdits.current, { start: { line: 3, character: 23 }, end: { line: 3, character: 27 }, text: "factor" });
        const drawn = (s: OnScreen) => s.injected.some((g) => g.text === "factor") && s.struck.includes("size");
        const deadline = Date.now() + 15_000;
        let screen = await askDriver<OnScreen>({ action: "ghost" });
        while (!drawn(screen) && Date.now() < deadline) {
          await sleep(250);
          screen = await askDriver<OnScreen>({ action: "ghost" });
        }
        await askDriver({ action: "ghost", shot: "next-edit-shown" });
        log(`next edit on screen: ${JSON.stringify(screen)}`);
        // An `after` text's column is measured at its right edge: it ends 6 columns after `size`.
        const added = screen.injected.filter((g) => g.text === "factor");
        assert.deepStrictEqual(added.map((g) => g.column), [27 + "factor".length], `"factor" drawn right after "size": ${JSON.stringify(screen)}`);
        assert.deepStrictEqual(screen.struck, ["size"], "only the replaced text struck through");
        assert.strictEqual(screen.ghost.length, 0, "no ghost text: the edit is not VS Code's inline suggestion");

        await vscode.commands.executeCommand("workbench.action.focusActiveEditorGroup");
        await askDriver({ action: "press", key: "Tab" });
        await waitFor("the cursor at the edit", 10_000, () =>
          editor.selection.active.isEqual(new vscode.Position(3, 23)) ? true : undefined,
        );
        assert.strictEqual(doc.getText(), text(renamed), "the jump changes nothing");
        assert.strictEqual(api.server.nextEdits.phase, "jumped");
        await askDriver({ action: "press", key: "Tab" });
        const accepted = [...renamed.slice(0, 3), "        out.append(x * factor)", renamed[4]];
        await waitFor("the edit applied", 10_000, () => (doc.getText() === text(accepted) ? true : undefined));
        const end = editor.selection.active;
        assert.deepStrictEqual([end.line, end.character], [3, 29], "the cursor after the new text");
        const after = await askDriver<OnScreen>({ action: "ghost", shot: "next-edit-accepted" });
        assert.ok(!after.injected.some((g) => g.text === "factor") && after.struck.length === 0, `nothing drawn: ${JSON.stringify(after)}`);
        assert.strictEqual(api.server.nextEdits.current, undefined);

        // Escape drops a shown edit; Tab is then the editor's own again.
        const whole = new vscode.Range(0, 0, doc.lineCount, 0);
        await editor.edit((e) => e.replace(whole, text(lines)));
        assert.strictEqual(doc.getText(), text(lines), "the file as it was");
        await rename();
        await vscode.commands.executeCommand("workbench.action.focusActiveEditorGroup");
        await askDriver({ action: "press", key: "Escape" });
        await waitFor("the edit dismissed", 10_000, () => (api.server.nextEdits.current === undefined ? true : undefined));
        const dismissed = await askDriver<OnScreen>({ action: "ghost" });
        assert.ok(!dismissed.injected.some((g) => g.text === "factor") && dismissed.struck.length === 0, `nothing drawn: ${JSON.stringify(dismissed)}`);
        assert.strictEqual(doc.getText(), text(renamed), "Escape leaves the buffer alone");
        await askDriver({ action: "press", key: "Tab" });
        await waitFor("Tab's own indentation", 10_000, () => (doc.lineAt(0).text !== renamed[0] ? true : undefined));
        log(`after a plain Tab: ${JSON.stringify(doc.lineAt(0).text)}`);
        assert.match(doc.lineAt(0).text, /^def scale\(factor[ \t]+, xs\):$/, "Tab inserted whitespace at the cursor");
        assert.strictEqual(doc.lineAt(3).text, lines[3], "no edit applied by that Tab");
        await vscode.commands.executeCommand("workbench.action.files.revert");
        await vscode.commands.executeCommand("workbench.action.closeActiveEditor");
      } finally {
        await config.update("nextEdit", undefined, vscode.ConfigurationTarget.Workspace);
      }
    },
  ],
  [
    "the suggest widget gets no fim-lsp item; the ghost text is the one suggestion",
    async (api) => {
      // The scripted server offers a menu item and an inline item at `if pre`, as fim-lsp does.
      await useScriptedServer(api, [
        { before: "if pre$", menu: [{ text: "processor:\n        pass" }] },
        { before: "if pre$", items: [{ insertText: "processor:" }] },
      ]);
      const caps = api.server.languageClient?.initializeResult?.capabilities;
      assert.ok(caps?.completionProvider, "the server offers completion items");
      const folder = vscode.workspace.workspaceFolders?.[0];
      assert.ok(folder);
      const uri = vscode.Uri.joinPath(folder.uri, "menu.py");
      fs.writeFileSync(uri.fsPath, "def run(preprocessor):\n    if pre\n");
      const doc = await vscode.workspace.openTextDocument(uri);
      await vscode.window.showTextDocument(doc);
      const at = new vscode.Position(1, "    if pre".length);
      const list = await vscode.commands.executeCommand<vscode.CompletionList>(
        "vscode.executeCompletionItemProvider", doc.uri, at,
      );
      const labels = list.items.map((i) => `${typeof i.label === "string" ? i.label : i.label.label} (${i.detail ?? ""})`);
      log(`suggest widget items: ${JSON.stringify(labels)}`);
      // The server does answer the menu request; the extension keeps its items out of the widget.
      const direct = (await api.server.languageClient?.sendRequest("textDocument/completion", {
        textDocument: { uri: doc.uri.toString() },
        position: { line: at.line, character: at.character },
      })) as { items: { label: string }[] };
      log(`the server's own answer: ${JSON.stringify(direct.items.map((i) => i.label))}`);
      assert.deepStrictEqual(direct.items.map((i) => i.label), ["preprocessor:"]);
      assert.deepStrictEqual(list.items.filter((i) => i.detail === "fim-lsp").map((i) => i.label), [],
        "no fim-lsp item in the suggest widget");
      await vscode.commands.executeCommand("workbench.action.closeActiveEditor");
    },
  ],
  [
    "changing fimLsp.server.args restarts a server slow to shut down without a timeout",
    async (api) => {
      // fim-lsp answers shutdown once its engine is closed, which waits for a model load or
      // run in progress: seconds, past vscode-languageclient's default wait of 2 s.
      await useScriptedServer(api, [], ["--shutdown-delay", "4"]);
      const failures = api.server.stopErrors.length;
      const started = Date.now();
      await useScriptedServer(api, []);
      log(`restarted in ${Date.now() - started} ms; stop errors: ${JSON.stringify(api.server.stopErrors)}`);
      assert.deepStrictEqual(api.server.stopErrors.slice(failures), [], "the old server stopped cleanly");
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
