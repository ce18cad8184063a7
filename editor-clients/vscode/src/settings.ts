// The extension's settings (section `fimLsp`), and how they map onto the server's.
// Pure: no `vscode` import, so the unit tests can call everything here.

export type Multiline = "auto" | "always" | "never";

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
}

/** What the server reads from initializationOptions and workspace/configuration `fimLsp`. */
export interface ServerSettings {
  enabled: boolean;
  disabledLanguages: string[];
  multiline: Multiline;
  model?: string;
  nThreads?: number;
  nGpuLayers?: number;
  maxTokens?: number;
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
});

const MULTILINE: readonly Multiline[] = ["auto", "always", "never"];

function bool(value: unknown, fallback: boolean): boolean {
  return typeof value === "boolean" ? value : fallback;
}

function int(value: unknown, fallback: number, min: number): number {
  return typeof value === "number" && Number.isInteger(value) && value >= min ? value : fallback;
}

function str(value: unknown, fallback: string): string {
  return typeof value === "string" ? value.trim() : fallback;
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

/** Reads and sanitises the settings; a value of the wrong type falls back to its default. */
export function readSettings(get: SettingGetter): ExtensionSettings {
  const d = DEFAULT_SETTINGS;
  const multiline = get("multiline");
  const gpuLayers = get("gpuLayers");
  const args = get("server.args");
  return {
    enabled: bool(get("enabled"), d.enabled),
    languages: languageMap(get("languages")),
    model: str(get("model"), d.model),
    threads: int(get("threads"), d.threads, 0),
    gpuLayers: gpuLayers === null || gpuLayers === undefined ? null : int(gpuLayers, 0, -1),
    maxTokens: int(get("maxTokens"), d.maxTokens, 0),
    multiline: MULTILINE.includes(multiline as Multiline) ? (multiline as Multiline) : d.multiline,
    debounceMs: int(get("debounceMs"), d.debounceMs, 0),
    serverPath: str(get("server.path"), d.serverPath) || d.serverPath,
    serverArgs: Array.isArray(args) ? args.filter((a): a is string => typeof a === "string") : [],
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
 * The settings object the server gets. Values meaning "the server decides" (empty model,
 * 0 threads or tokens, no GPU layer count) are left out so the server's defaults apply.
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
  return out;
}

/** A new command or arguments need a new server process; everything else is sent live. */
export function needsRestart(before: ExtensionSettings, after: ExtensionSettings): boolean {
  return (
    before.serverPath !== after.serverPath ||
    before.serverArgs.length !== after.serverArgs.length ||
    before.serverArgs.some((arg, i) => arg !== after.serverArgs[i])
  );
}
