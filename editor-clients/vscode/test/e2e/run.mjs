#!/usr/bin/env node
// Runs src/test/e2e/suite.ts inside real VS Code: the VS Code server from the code-server npm
// package (on Node 24) plus Debian's chromium driven by playwright-core, all headless.
//
//   node test/e2e/run.mjs            (after editor-clients/setup-deps.sh and npm run compile)
//
// Env: FIM_LSP_SERVER (fim-lsp executable; default <repo>/.venv/bin/fim-lsp),
//      FIM_LSP_E2E_MODEL (model name or path; default: the server's default),
//      FIM_LSP_CACHE (default ~/.cache/fim-lsp), FIM_LSP_E2E_TIMEOUT_S (default 600),
//      FIM_LSP_E2E_KEEP=1 keeps the scratch folder,
//      FIM_LSP_E2E_SHOTS=DIR saves the screenshots the suite asks for (see askDriver in suite.ts),
//      FIM_LSP_E2E_ONLY=TEXT runs only the tests whose name contains TEXT.
// Exit code: 0 when every test passed, 1 when one failed, 2 when the harness itself failed.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const extensionDir = path.resolve(here, "../..");
const repo = path.resolve(extensionDir, "../..");
const cache = path.join(process.env.FIM_LSP_CACHE ?? path.join(os.homedir(), ".cache/fim-lsp"), "editors");
const node24 = path.join(cache, "node24/bin/node");
const serverMain = path.join(cache, "code-server/lib/vscode/out/server-main.js");
const chromiumPath = process.env.FIM_LSP_CHROMIUM ?? "/usr/bin/chromium";
const fimLsp = process.env.FIM_LSP_SERVER ?? path.join(repo, ".venv/bin/fim-lsp");
const suite = path.join(extensionDir, "out/test/e2e/suite.js");
const timeoutMs = Number(process.env.FIM_LSP_E2E_TIMEOUT_S ?? 600) * 1000;
// Every process this run starts inherits this marker, so the cleanup can find stragglers
// (the extension host and fim-lsp) even when they left the server's process group.
const runId = process.env.FIM_LSP_E2E_RUN_ID ?? randomUUID();
// A stand-in server with fixed answers, for tests of how VS Code shows a given item.
const scriptedServer = path.join(repo, "tests/editors/scripted_server.py");

function say(line) {
  process.stdout.write(`[run.mjs] ${line}\n`);
}

function requireFile(file, hint) {
  if (!fs.existsSync(file)) {
    say(`missing ${file}: ${hint}`);
    process.exit(2);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** PIDs of live processes whose environment carries this run's marker. */
function markedPids() {
  const pids = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const env = fs.readFileSync(`/proc/${entry}/environ`, "latin1");
      if (env.includes(`FIM_LSP_E2E_RUN_ID=${runId}`)) pids.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

async function killAll(server) {
  if (server?.pid) {
    try {
      process.kill(-server.pid, "SIGTERM");
    } catch {
      // group already gone
    }
  }
  const deadline = Date.now() + 5000;
  while (markedPids().length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
  }
  const left = markedPids();
  for (const pid of left) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // exited meanwhile
    }
  }
  if (server?.pid) {
    try {
      process.kill(-server.pid, "SIGKILL");
    } catch {
      // group already gone
    }
  }
  if (left.length) say(`killed ${left.length} leftover process(es): ${left.join(" ")}`);
}

/** The ghost text on the page: one entry per span (VS Code splits it by syntax token), with its column. */
async function ghostInPage(page) {
  return page.evaluate(() => {
    const editor = document.querySelector(".monaco-editor.focused");
    const lines = editor?.querySelector(".view-lines");
    const probe = editor?.querySelector(".view-line");
    // Columns from pixels: the width of one character of the editor font.
    let charWidth;
    if (probe) {
      const span = document.createElement("span");
      span.textContent = "x".repeat(40);
      probe.appendChild(span);
      charWidth = span.getBoundingClientRect().width / 40;
      span.remove();
    }
    const left = lines ? lines.getBoundingClientRect().left : 0;
    return {
      focused: !!editor,
      ghost: [...document.querySelectorAll(".ghost-text-decoration, .ghost-text-decoration-preview, .ghost-text")].map((e) => ({
        text: e.textContent,
        column: charWidth ? Math.round((e.getBoundingClientRect().left - left) / charWidth) : undefined,
      })),
      injected: [...(editor?.querySelectorAll(".view-line span") ?? [])].flatMap((e) => {
        // `before`/`after` text of a decoration: CSS content on an otherwise empty span.
        return ["::before", "::after"].flatMap((pseudo) => {
          const style = getComputedStyle(e, pseudo);
          const content = style.content;
          if (!content || content === "none" || content === "normal" || !/^["']/.test(content)) return [];
          return [{
            text: JSON.parse(content.replace(/^'|'$/g, '"')),
            column: charWidth
              ? Math.round(((pseudo === "::before" ? e.getBoundingClientRect().left : e.getBoundingClientRect().right) - left) / charWidth)
              : undefined,
            color: style.color,
          }];
        });
      }),
      // Text drawn struck through (a decoration's textDecoration), e.g. what a next edit replaces.
      struck: [...(editor?.querySelectorAll(".view-line span") ?? [])]
        .filter((e) => e.children.length === 0 && getComputedStyle(e).textDecorationLine.includes("line-through"))
        .map((e) => e.textContent),
      cursorColumn: editor && charWidth
        ? Math.round((editor.querySelector(".cursor").getBoundingClientRect().left - left) / charWidth)
        : undefined,
    };
  });
}

/**
 * The suite (in the extension host) cannot see the screen or press keys; it asks through files:
 * `<result>.ask-<n>.json` = {action: "ghost" | "press", key?, shot?}, answered in
 * `<result>.answer-<n>.json`.
 */
function answerDriverRequests(page, resultFile, exited) {
  let stopped = false;
  let n = 0;
  void exited.then(() => (stopped = true));
  const loop = async () => {
    while (!stopped) {
      const ask = `${resultFile}.ask-${n}.json`;
      if (fs.existsSync(ask)) {
        let answer;
        try {
          const req = JSON.parse(fs.readFileSync(ask, "utf8"));
          if (req.action === "press") {
            await page.keyboard.press(req.key);
            answer = { ok: true };
          } else {
            answer = await ghostInPage(page);
          }
          if (req.shot && process.env.FIM_LSP_E2E_SHOTS) {
            fs.mkdirSync(process.env.FIM_LSP_E2E_SHOTS, { recursive: true });
            const file = path.join(process.env.FIM_LSP_E2E_SHOTS, `${req.shot}.png`);
            await page.screenshot({ path: file });
            say(`screenshot ${file}`);
          }
        } catch (err) {
          answer = { error: String(err?.stack ?? err) };
        }
        fs.writeFileSync(`${resultFile}.answer-${n}.json`, JSON.stringify(answer));
        n += 1;
        continue;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  void loop();
  return { stop: () => (stopped = true) };
}

async function main() {
  const setupHint = "run editor-clients/setup-deps.sh first";
  requireFile(node24, setupHint);
  requireFile(serverMain, setupHint);
  requireFile(chromiumPath, setupHint + " (it installs Debian's chromium)");
  requireFile(suite, "run `npm run compile` in editor-clients/vscode first");
  requireFile(fimLsp, "install the project (pip install -e .) or set FIM_LSP_SERVER");

  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "fim-lsp-vscode-e2e-"));
  const workspace = path.join(scratch, "workspace");
  fs.mkdirSync(path.join(workspace, ".vscode"), { recursive: true });
  fs.writeFileSync(
    path.join(workspace, "sample.py"),
    "def add(a, b):\n    return a + b\n\n\ndef multiply(a, b):\n    return \n",
  );
  // The server command goes where the README tells users to put it: User settings (in
  // code-server a file beside the server, <user-data-dir>/User/settings.json); a remote window
  // must not drop it there (issue 12).
  const userSettings = {
    "fimLsp.server.path": fimLsp,
    "fimLsp.server.args": ["-v", "--log-file", path.join(scratch, "fim-lsp.log")],
  };
  fs.mkdirSync(path.join(scratch, "user-data/User"), { recursive: true });
  fs.writeFileSync(path.join(scratch, "user-data/User/settings.json"), JSON.stringify(userSettings, null, 2));
  const settings = {
    "fimLsp.debounceMs": 0,
    "fimLsp.trace.server": "messages",
    "editor.inlineSuggest.enabled": true,
    "workbench.startupEditor": "none",
    "workbench.secondarySideBar.defaultVisibility": "hidden",
    "chat.disableAIFeatures": true,
    "extensions.autoUpdate": false,
    "extensions.autoCheckUpdates": false,
    "telemetry.telemetryLevel": "off",
  };
  if (process.env.FIM_LSP_E2E_MODEL) settings["fimLsp.model"] = process.env.FIM_LSP_E2E_MODEL;
  fs.writeFileSync(path.join(workspace, ".vscode/settings.json"), JSON.stringify(settings, null, 2));
  const resultFile = path.join(scratch, "result.json");

  const port = await freePort();
  const serverLog = fs.openSync(path.join(scratch, "vscode-server.log"), "w");
  const server = spawn(
    node24,
    [
      serverMain,
      "--host", "127.0.0.1",
      "--port", String(port),
      "--enable-smoke-test-driver",
      "--without-connection-token",
      "--accept-server-license-terms",
      "--disable-telemetry",
      "--disable-workspace-trust",
      "--server-data-dir", path.join(scratch, "server-data"),
      "--user-data-dir", path.join(scratch, "user-data"),
      "--extensions-dir", path.join(scratch, "extensions"),
    ],
    {
      detached: true, // its own process group, killed as one at the end
      stdio: ["ignore", serverLog, serverLog],
      env: {
        ...process.env,
        FIM_LSP_E2E_RUN_ID: runId,
        FIM_LSP_E2E_RESULT: resultFile,
        FIM_LSP_E2E_SCRIPTED_SERVER: scriptedServer,
        FIM_LSP_E2E_SERVER: fimLsp,
      },
    },
  );
  say(`VS Code server pid ${server.pid} on 127.0.0.1:${port}; scratch ${scratch}`);

  let browser;
  let code = 2;
  const started = Date.now();
  try {
    const listening = new RegExp(`listening on ${port}`);
    while (!listening.test(fs.readFileSync(path.join(scratch, "vscode-server.log"), "utf8"))) {
      if (server.exitCode !== null) throw new Error(`VS Code server exited with ${server.exitCode}`);
      if (Date.now() - started > 60_000) throw new Error("VS Code server did not listen within 60 s");
      await new Promise((r) => setTimeout(r, 200));
    }
    say(`server listening after ${Date.now() - started} ms`);

    browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
      ],
      env: { ...process.env, FIM_LSP_E2E_RUN_ID: runId },
    });
    const page = await browser.newPage();
    let exit;
    const exited = new Promise((resolve) => (exit = resolve));
    await page.exposeFunction("codeAutomationLog", (type, args) => {
      const text = (Array.isArray(args) ? args : [args]).map(String).join(" ");
      if (/\[e2e |error|fim-lsp/i.test(text)) say(`workbench ${type}: ${text.slice(0, 400)}`);
    });
    await page.exposeFunction("codeAutomationExit", (exitCode) => exit(exitCode));
    page.on("pageerror", (err) => say(`page error: ${err.message}`));

    const authority = `127.0.0.1:${port}`;
    const remote = (p) => `vscode-remote://${authority}${p}`;
    const payload = [
      ["extensionDevelopmentPath", remote(extensionDir)],
      ["extensionTestsPath", remote(suite)],
      ["skipWelcome", "true"],
      ["skipReleaseNotes", "true"],
    ];
    const url =
      `http://${authority}/?folder=${encodeURIComponent(workspace)}` +
      `&payload=${encodeURIComponent(JSON.stringify(payload))}`;
    say(`opening ${url}`);
    await page.goto(url);
    await page.bringToFront();

    const answering = answerDriverRequests(page, resultFile, exited);
    const result = await Promise.race([
      exited.then((c) => ({ exitCode: c })),
      new Promise((r) => setTimeout(() => r({ timeout: true }), timeoutMs)),
    ]);
    answering.stop();
    if (result.timeout) throw new Error(`suite did not finish within ${timeoutMs / 1000} s`);
    if (process.env.FIM_LSP_E2E_SCREENSHOT) {
      await page.screenshot({ path: process.env.FIM_LSP_E2E_SCREENSHOT }).catch(() => {});
    }
    say(`extension host exited with ${result.exitCode} after ${Math.round((Date.now() - started) / 1000)} s`);
    if (!fs.existsSync(resultFile)) throw new Error("the suite wrote no result file: it never ran");
    const { results } = JSON.parse(fs.readFileSync(resultFile, "utf8"));
    for (const r of results) {
      say(`${r.ok ? "PASS" : "FAIL"} ${r.name} (${r.ms} ms)${r.ok ? "" : `\n${r.error}`}`);
    }
    const failed = results.filter((r) => !r.ok).length;
    process.stdout.write(`vscode-e2e: ${results.length - failed} passed, ${failed} failed\n`);
    code = failed || result.exitCode !== 0 || results.length === 0 ? 1 : 0;
  } catch (err) {
    say(`harness error: ${err?.stack ?? err}`);
    code = 2;
  } finally {
    if (fs.existsSync(`${resultFile}.log`)) {
      say("suite log:\n" + fs.readFileSync(`${resultFile}.log`, "utf8"));
    }
    if (code !== 0) {
      for (const name of ["vscode-server.log", "fim-lsp.log"]) {
        const file = path.join(scratch, name);
        if (fs.existsSync(file)) say(`--- tail of ${name}\n${fs.readFileSync(file, "utf8").slice(-6000)}`);
      }
    }
    await browser?.close().catch(() => {});
    await killAll(server);
    if (process.env.FIM_LSP_E2E_KEEP !== "1") fs.rmSync(scratch, { recursive: true, force: true });
    else say(`kept ${scratch}`);
  }
  process.exit(code);
}

main();
