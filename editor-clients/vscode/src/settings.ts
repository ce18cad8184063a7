// The extension's settings (section `fimLsp`), and how they map onto the server's.
// Pure: no `vscode` import, so the unit tests can call everything here.

export type Multiline = "auto" | "always" | "never";

/** Where completions are computed: in the server process, or by a shared inference engine. One of
 * the names of package.json's `fimLsp.backend` enum (`backendNames`), the server's backends. */
export type Backend = string;

export interface ExtensionSettings {
  enabled: boolean;
  /** languageId -> on/off; "*" is the default for ids not listed. */
  languages: Record<string, boolean>;
  model: string;
  threads: number;
  gpuLayers: number | null;
  maxTokens: number;
  multiline: Multiline;
  debounceMs: number;
  serverPath: string;
  serverArgs: string[];
  backend: Backend;
  /** Base URL of a remote engine; empty: the backend's default. */
  url: string;
  /** Model name asked of an OpenAI-compatible or Ollama engine; empty: the server's choice. */
  remoteModel: string;
  /** Name of the environment variable that holds the API key (never the key); empty: default. */
  apiKeyEnv: string;
  /** Next-edit suggestions (fimLsp/inlineEdit), drawn by nextEditView.ts. */
  nextEdit: boolean;
}

/** What the server reads from initializationOptions and workspace/configuration `fimLsp`. */
export interface ServerSettings {
  enabled: boolean;
  disabledLanguages: string[];
  multiline: Multiline;
  nextEdit: boolean;
  model?: string;
  nThreads?: number;
  nGpuLayers?: number;
  maxTokens?: number;
  backend?: Backend;
  url?: string;
  remoteModel?: string;
  apiKeyEnv?: string;
}

/** Reads one key of the `fimLsp` section; `WorkspaceConfiguration.get` fits. */
export type SettingGetter = (key: string) => unknown;

export const DEFAULT_SETTINGS: Readonly<ExtensionSettings> = Object.freeze({
  enabled: true,
  languages: { "*": true },
  model: "",
  threads: 0,
  gpuLayers: null,
  maxTokens: 0,
  multiline: "auto",
  debounceMs: 75,
  serverPath: "fim-lsp",
  serverArgs: [],
  backend: "llama_cpp",
  url: "",
  remoteModel: "",
  apiKeyEnv: "",
  nextEdit: true,
});

const MULTILINE: readonly Multiline[] = ["auto", "always", "never"];
/** A portable environment variable name; anything else (a pasted key, say) is not sent. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function bool(value: unknown, fallback: boolean): boolean {
  return typeof value === "boolean" ? value : fallback;
}

function int(value: unknown, fallback: number, min: number): number {
  return typeof value === "number" && Number.isInteger(value) && value >= min ? value : fallback;
}

function str(value: unknown, fallback: string): string {
  return typeof value === "string" ? value.trim() : fallback;
}

function oneOf<T extends string>(value: unknown, choices: readonly T[], fallback: T): T {
  return choices.includes(value as T) ? (value as T) : fallback;
}

function languageMap(value: unknown): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [key, on] of Object.entries(value)) {
      if (typeof on === "boolean") {
        out[key] = on;
      }
    }
  }
  return out;
}

/** The backends a user may choose: the `fimLsp.backend` enum of the extension's package.json,
 * the one list of them on this side (a server test checks it against lsp_server/backends.py). */
export function backendNames(manifest: unknown): readonly Backend[] {
  const m = manifest as { contributes?: { configuration?: { properties?: Record<string, { enum?: unknown }> } } };
  const names = m?.contributes?.configuration?.properties?.["fimLsp.backend"]?.enum;
  return Array.isArray(names) ? names.filter((n): n is string => typeof n === "string") : [DEFAULT_SETTINGS.backend];
}

/** Reads and sanitises the settings; a value of the wrong type falls back to its default, a
 * backend not in ``backends`` too. */
export function readSettings(get: SettingGetter, backends: readonly Backend[]): ExtensionSettings {
  const d = DEFAULT_SETTINGS;
  const multiline = get("multiline");
  const gpuLayers = get("gpuLayers");
  const args = get("server.args");
  const apiKeyEnv = str(get("apiKeyEnv"), d.apiKeyEnv);
  return {
    enabled: bool(get("enabled"), d.enabled),
    languages: languageMap(get("languages")),
    model: str(get("model"), d.model),
    threads: int(get("threads"), d.threads, 0),
    gpuLayers: gpuLayers === null || gpuLayers === undefined ? null : int(gpuLayers, 0, -1),
    maxTokens: int(get("maxTokens"), d.maxTokens, 0),
    multiline: oneOf(multiline, MULTILINE, d.multiline),
    debounceMs: int(get("debounceMs"), d.debounceMs, 0),
    serverPath: str(get("server.path"), d.serverPath) || d.serverPath,
    serverArgs: Array.isArray(args) ? args.filter((a): a is string => typeof a === "string") : [],
    backend: oneOf(get("backend"), backends, d.backend),
    url: str(get("url"), d.url),
    remoteModel: str(get("remoteModel"), d.remoteModel),
    apiKeyEnv: ENV_NAME.test(apiKeyEnv) ? apiKeyEnv : d.apiKeyEnv,
    nextEdit: bool(get("nextEdit"), d.nextEdit),
  };
}

/** Whether suggestions should be asked for in a document of this language. */
export function isLanguageEnabled(settings: ExtensionSettings, languageId: string): boolean {
  if (!settings.enabled) {
    return false;
  }
  return settings.languages[languageId] ?? settings.languages["*"] ?? true;
}

/**
 * The settings object the server gets. Values meaning "the server decides" (empty model, URL,
 * remote model or key variable, 0 threads or tokens, no GPU layer count, the in-process
 * backend) are left out so the server's defaults and its config file apply.
 * A language map like {"*": false, "python": true} cannot be said with disabledLanguages;
 * the extension enforces it itself (see isLanguageEnabled).
 */
export function toServerSettings(settings: ExtensionSettings): ServerSettings {
  const out: ServerSettings = {
    enabled: settings.enabled,
    disabledLanguages: Object.entries(settings.languages)
      .filter(([id, on]) => id !== "*" && !on)
      .map(([id]) => id)
      .sort(),
    multiline: settings.multiline,
    // Always sent, as `enabled` is: the extension's setting (default off) is the user's say.
    nextEdit: settings.nextEdit,
  };
  if (settings.model) {
    out.model = settings.model;
  }
  if (settings.threads > 0) {
    out.nThreads = settings.threads;
  }
  if (settings.gpuLayers !== null) {
    out.nGpuLayers = settings.gpuLayers;
  }
  if (settings.maxTokens > 0) {
    out.maxTokens = settings.maxTokens;
  }
  if (settings.backend !== DEFAULT_SETTINGS.backend) {
    out.backend = settings.backend;
  }
  if (settings.url) {
    out.url = settings.url;
  }
  if (settings.remoteModel) {
    out.remoteModel = settings.remoteModel;
  }
  if (settings.apiKeyEnv) {
    out.apiKeyEnv = settings.apiKeyEnv;
  }
  return out;
}

/**
 * A new command or arguments need a new server process; everything else is sent live.
 * `startedWith` is what the running server got as initializationOptions: a key it got there
 * but that is now left out (say `backend` set back to the in-process engine) cannot be taken
 * back live, since the server keeps its initializationOptions under workspace/configuration,
 * so that also needs a new process.
 */
export function needsRestart(
  before: ExtensionSettings,
  after: ExtensionSettings,
  startedWith?: ServerSettings,
): boolean {
  return (
    before.serverPath !== after.serverPath ||
    before.serverArgs.length !== after.serverArgs.length ||
    before.serverArgs.some((arg, i) => arg !== after.serverArgs[i]) ||
    (startedWith !== undefined && dropsKeys(startedWith, toServerSettings(after)))
  );
}

function dropsKeys(startedWith: ServerSettings, now: ServerSettings): boolean {
  const kept = new Set(Object.keys(now));
  return Object.entries(startedWith).some(([key, value]) => value !== undefined && !kept.has(key));
}
