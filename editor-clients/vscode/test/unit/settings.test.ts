import { readFileSync } from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_SETTINGS,
  ExtensionSettings,
  backendNames,
  isLanguageEnabled,
  needsRestart,
  readSettings,
  toServerSettings,
} from "../../src/settings";

const BACKENDS = backendNames(JSON.parse(readFileSync(path.join(__dirname, "../../package.json"), "utf8")));

function from(values: Record<string, unknown>): ExtensionSettings {
  return readSettings((key) => values[key], BACKENDS);
}

describe("backendNames", () => {
  it("reads the backend enum of package.json", () => {
    expect(BACKENDS).toEqual(["llama_cpp", "llama-server", "openai", "ollama"]);
  });

  it("falls back on the in-process engine alone for a manifest without the enum", () => {
    expect(backendNames({})).toEqual(["llama_cpp"]);
  });
});

describe("readSettings", () => {
  it("gives the defaults for an empty configuration", () => {
    expect(from({})).toEqual({ ...DEFAULT_SETTINGS, languages: {} });
  });

  it("reads every key", () => {
    const s = from({
      enabled: false,
      languages: { "*": false, python: true },
      model: " qwen2.5-coder-1.5b ",
      threads: 4,
      gpuLayers: -1,
      maxTokens: 64,
      multiline: "never",
      debounceMs: 200,
      "server.path": "~/.venv/bin/fim-lsp",
      "server.args": ["-v"],
      backend: "openai",
      url: " http://127.0.0.1:8012 ",
      remoteModel: "Qwen/Qwen2.5-Coder-7B",
      apiKeyEnv: "TEAM_FIM_KEY",
      nextEdit: true,
    });
    expect(s).toEqual({
      enabled: false,
      languages: { "*": false, python: true },
      model: "qwen2.5-coder-1.5b",
      threads: 4,
      gpuLayers: -1,
      maxTokens: 64,
      multiline: "never",
      debounceMs: 200,
      serverPath: "~/.venv/bin/fim-lsp",
      serverArgs: ["-v"],
      backend: "openai",
      url: "http://127.0.0.1:8012",
      remoteModel: "Qwen/Qwen2.5-Coder-7B",
      apiKeyEnv: "TEAM_FIM_KEY",
      nextEdit: true,
    });
  });

  it("falls back per key on values of the wrong type", () => {
    const s = from({
      enabled: "yes",
      languages: { python: "on", go: false },
      threads: -2,
      gpuLayers: 1.5,
      maxTokens: "many",
      multiline: "sometimes",
      debounceMs: null,
      "server.path": "  ",
      "server.args": ["-v", 3],
    });
    expect(s.enabled).toBe(true);
    expect(s.languages).toEqual({ go: false });
    expect(s.threads).toBe(0);
    expect(s.gpuLayers).toBe(0);
    expect(s.maxTokens).toBe(0);
    expect(s.multiline).toBe("auto");
    expect(s.debounceMs).toBe(75);
    expect(s.serverPath).toBe("fim-lsp");
    expect(s.serverArgs).toEqual(["-v"]);
  });

  it("falls back on a bad backend, URL, remote model or key variable", () => {
    const s = from({ backend: "vllm", url: 8012, remoteModel: ["m"], apiKeyEnv: 1 });
    expect(s.backend).toBe("llama_cpp");
    expect(s.url).toBe("");
    expect(s.remoteModel).toBe("");
    expect(s.apiKeyEnv).toBe("");
    expect(from({ backend: "LLAMA-SERVER" }).backend).toBe("llama_cpp");
  });

  it("takes only a variable name for apiKeyEnv, never something that looks like a key", () => {
    expect(from({ apiKeyEnv: " MY_KEY_2 " }).apiKeyEnv).toBe("MY_KEY_2");
    expect(from({ apiKeyEnv: "sk-proj-abc123" }).apiKeyEnv).toBe("");
    expect(from({ apiKeyEnv: "2FAST" }).apiKeyEnv).toBe("");
    expect(from({ apiKeyEnv: "$FIM_LSP_API_KEY" }).apiKeyEnv).toBe("");
  });
});

describe("toServerSettings", () => {
  it("leaves out what the server should decide", () => {
    expect(toServerSettings(from({}))).toEqual({
      enabled: true,
      disabledLanguages: [],
      multiline: "auto",
      nextEdit: true,
    });
  });

  it("renames to the server's keys and lists the languages turned off", () => {
    const s = from({
      model: "/m/a.gguf",
      threads: 2,
      gpuLayers: 0,
      maxTokens: 32,
      languages: { "*": true, markdown: false, python: true, plaintext: false },
    });
    expect(toServerSettings(s)).toEqual({
      enabled: true,
      disabledLanguages: ["markdown", "plaintext"],
      multiline: "auto",
      nextEdit: true,
      model: "/m/a.gguf",
      nThreads: 2,
      nGpuLayers: 0,
      maxTokens: 32,
    });
  });

  it("points the server at a shared engine", () => {
    const s = from({
      backend: "llama-server",
      url: "http://gpu-box.internal:8080",
      remoteModel: "qwen2.5-coder:7b-base",
      apiKeyEnv: "TEAM_FIM_KEY",
    });
    expect(toServerSettings(s)).toEqual({
      enabled: true,
      disabledLanguages: [],
      multiline: "auto",
      nextEdit: true,
      backend: "llama-server",
      url: "http://gpu-box.internal:8080",
      remoteModel: "qwen2.5-coder:7b-base",
      apiKeyEnv: "TEAM_FIM_KEY",
    });
  });

  it("sends each remote key only when set, and no backend for the in-process one", () => {
    expect(toServerSettings(from({ backend: "llama_cpp", url: "  ", remoteModel: "" }))).toEqual({
      enabled: true,
      disabledLanguages: [],
      multiline: "auto",
      nextEdit: true,
    });
    expect(toServerSettings(from({ backend: "ollama" }))).toEqual({
      enabled: true,
      disabledLanguages: [],
      multiline: "auto",
      nextEdit: true,
      backend: "ollama",
    });
  });

  it("sends nothing for a bad backend or key variable, so the server's own setting applies", () => {
    const out = toServerSettings(from({ backend: "vllm", apiKeyEnv: "sk-abc", url: "http://h:1" }));
    expect(out).not.toHaveProperty("backend");
    expect(out).not.toHaveProperty("apiKeyEnv");
    expect(out.url).toBe("http://h:1");
  });
});

describe("isLanguageEnabled", () => {
  it("follows the language map with * as the default", () => {
    const s = from({ languages: { "*": false, python: true } });
    expect(isLanguageEnabled(s, "python")).toBe(true);
    expect(isLanguageEnabled(s, "go")).toBe(false);
    expect(isLanguageEnabled(from({ languages: { markdown: false } }), "go")).toBe(true);
    expect(isLanguageEnabled(from({ languages: { markdown: false } }), "markdown")).toBe(false);
  });

  it("is off everywhere when the switch is off", () => {
    expect(isLanguageEnabled(from({ enabled: false, languages: { python: true } }), "python")).toBe(false);
  });
});

describe("needsRestart", () => {
  it("only for the command and its arguments", () => {
    const base = from({});
    expect(needsRestart(base, from({ model: "x", threads: 3 }))).toBe(false);
    expect(needsRestart(base, from({ "server.path": "/opt/fim-lsp" }))).toBe(true);
    expect(needsRestart(base, from({ "server.args": ["-v"] }))).toBe(true);
    expect(needsRestart(from({ "server.args": ["-v"] }), from({ "server.args": ["-v"] }))).toBe(false);
    expect(needsRestart(base, from({ backend: "openai", url: "http://h:8000/v1" }))).toBe(false);
  });

  it("also when a key the server was started with is left out now", () => {
    const remote = from({ backend: "llama-server", url: "http://h:8080" });
    const startedWith = toServerSettings(remote);
    // Back to the in-process engine: the server would keep its initializationOptions' backend.
    expect(needsRestart(remote, from({ url: "http://h:8080" }), startedWith)).toBe(true);
    expect(needsRestart(remote, from({ backend: "llama-server" }), startedWith)).toBe(true);
    // Changed, not cleared: sent live.
    expect(needsRestart(remote, from({ backend: "openai", url: "http://h:8000" }), startedWith)).toBe(false);
    // Set after the start and cleared again: the server never got it at start.
    const local = from({});
    expect(needsRestart(remote, local, toServerSettings(local))).toBe(false);
  });
});
