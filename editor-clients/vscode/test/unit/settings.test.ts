import { describe, expect, it } from "vitest";
import {
  DEFAULT_SETTINGS,
  ExtensionSettings,
  isLanguageEnabled,
  needsRestart,
  readSettings,
  toServerSettings,
} from "../../src/settings";

function from(values: Record<string, unknown>): ExtensionSettings {
  return readSettings((key) => values[key]);
}

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
});

describe("toServerSettings", () => {
  it("leaves out what the server should decide", () => {
    expect(toServerSettings(from({}))).toEqual({
      enabled: true,
      disabledLanguages: [],
      multiline: "auto",
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
      model: "/m/a.gguf",
      nThreads: 2,
      nGpuLayers: 0,
      maxTokens: 32,
    });
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
  });
});
