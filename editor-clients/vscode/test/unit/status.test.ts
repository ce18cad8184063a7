import { describe, expect, it } from "vitest";
import { StatusSnapshot, parseStatusNotification, present } from "../../src/status";

const base: StatusSnapshot = { state: "ready", message: "", model: "m.gguf", suggestionsEnabled: true };

describe("parseStatusNotification", () => {
  it("accepts the server's states", () => {
    expect(parseStatusNotification({ state: "loading", message: "Downloading", model: "x" })).toEqual({
      state: "loading",
      message: "Downloading",
      model: "x",
    });
    expect(parseStatusNotification({ state: "ready" })).toEqual({ state: "ready", message: "", model: "" });
  });

  it("ignores anything else", () => {
    expect(parseStatusNotification(null)).toBeUndefined();
    expect(parseStatusNotification("ready")).toBeUndefined();
    expect(parseStatusNotification({ state: "missing" })).toBeUndefined();
    expect(parseStatusNotification({ state: 3 })).toBeUndefined();
  });
});

describe("present", () => {
  it("ready: click toggles", () => {
    const view = present(base);
    expect(view.text).toBe("$(sparkle) fim-lsp");
    expect(view.command).toBe("fimLsp.toggle");
    expect(view.tooltip).toContain("m.gguf");
    expect(view.tooltip).toContain("turn suggestions off");
  });

  it("off when the user switched suggestions off or the server says disabled", () => {
    expect(present({ ...base, suggestionsEnabled: false }).text).toBe("$(circle-slash) fim-lsp");
    expect(present({ ...base, suggestionsEnabled: false }).tooltip).toContain("turn suggestions on");
    expect(present({ ...base, state: "disabled" }).text).toBe("$(circle-slash) fim-lsp");
  });

  it("loading shows the download progress", () => {
    const view = present({
      ...base,
      state: "loading",
      progress: { title: "Downloading model", message: "qwen 120/400 MB", percentage: 30.4 },
    });
    expect(view.text).toBe("$(sync~spin) fim-lsp: qwen 120/400 MB 30%");
    expect(present({ ...base, state: "loading", message: "Loading m.gguf" }).text).toBe(
      "$(sync~spin) fim-lsp: Loading m.gguf",
    );
    expect(present({ ...base, state: "starting" }).text).toBe("$(sync~spin) fim-lsp: Starting");
  });

  it("errors point at the log", () => {
    const error = present({ ...base, state: "error", message: "model file is corrupt" });
    expect(error.kind).toBe("error");
    expect(error.command).toBe("fimLsp.showLog");
    expect(error.tooltip).toContain("model file is corrupt");
    expect(present({ ...base, state: "missing" }).command).toBe("fimLsp.showLog");
    expect(present({ ...base, state: "stopped" }).kind).toBe("warning");
  });
});
