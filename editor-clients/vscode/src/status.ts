// What the status bar item says. Pure: the state goes in, text and tooltip come out.

/** States the server reports in `fimLsp/status`, plus the ones the extension knows alone. */
export type ServerState =
  | "starting"
  | "loading"
  | "ready"
  | "error"
  | "disabled"
  | "stopped"
  | "missing";

const SERVER_STATES: readonly string[] = ["loading", "ready", "error", "disabled"];

export interface Progress {
  title: string;
  message?: string;
  percentage?: number;
}

export interface StatusSnapshot {
  state: ServerState;
  message: string;
  model: string;
  /** The user's on/off switch (fimLsp.enabled), not the server's state. */
  suggestionsEnabled: boolean;
  progress?: Progress;
}

export interface StatusPresentation {
  text: string;
  tooltip: string;
  /** The command run on click. */
  command: "fimLsp.toggle" | "fimLsp.showLog";
  kind: "normal" | "warning" | "error";
}

/** Params of the server's `fimLsp/status` notification; anything else is ignored. */
export function parseStatusNotification(
  params: unknown,
): Pick<StatusSnapshot, "state" | "message" | "model"> | undefined {
  if (params === null || typeof params !== "object") {
    return undefined;
  }
  const { state, message, model } = params as Record<string, unknown>;
  if (typeof state !== "string" || !SERVER_STATES.includes(state)) {
    return undefined;
  }
  return {
    state: state as ServerState,
    message: typeof message === "string" ? message : "",
    model: typeof model === "string" ? model : "",
  };
}

function progressText(progress: Progress): string {
  const parts = [progress.message || progress.title];
  if (typeof progress.percentage === "number") {
    parts.push(`${Math.round(progress.percentage)}%`);
  }
  return parts.join(" ");
}

export function present(status: StatusSnapshot): StatusPresentation {
  const modelLine = status.model ? `\nModel: ${status.model}` : "";
  const toggleHint = `\nClick to turn suggestions ${status.suggestionsEnabled ? "off" : "on"}.`;
  const detail = status.message ? `\n${status.message}` : "";
  switch (status.state) {
    case "missing":
      return {
        text: "$(error) fim-lsp",
        tooltip: `fim-lsp: server not found.${detail}\nClick to show the log.`,
        command: "fimLsp.showLog",
        kind: "error",
      };
    case "error":
      return {
        text: "$(error) fim-lsp",
        tooltip: `fim-lsp: error.${detail}${modelLine}\nClick to show the log.`,
        command: "fimLsp.showLog",
        kind: "error",
      };
    case "stopped":
      return {
        text: "$(debug-stop) fim-lsp",
        tooltip: `fim-lsp: server stopped.${detail}\nClick to show the log.`,
        command: "fimLsp.showLog",
        kind: "warning",
      };
    case "starting":
    case "loading": {
      const what = status.progress
        ? progressText(status.progress)
        : status.message || (status.state === "starting" ? "Starting" : "Loading model");
      return {
        text: `$(sync~spin) fim-lsp: ${what}`,
        tooltip: `fim-lsp: ${what}${modelLine}${toggleHint}`,
        command: "fimLsp.toggle",
        kind: "normal",
      };
    }
    case "disabled":
    case "ready":
      if (!status.suggestionsEnabled || status.state === "disabled") {
        return {
          text: "$(circle-slash) fim-lsp",
          tooltip: `fim-lsp: suggestions off.${detail}${modelLine}${toggleHint}`,
          command: "fimLsp.toggle",
          kind: "normal",
        };
      }
      return {
        text: "$(sparkle) fim-lsp",
        tooltip: `fim-lsp: ready.${detail}${modelLine}${toggleHint}`,
        command: "fimLsp.toggle",
        kind: "normal",
      };
  }
}
