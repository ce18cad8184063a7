import { describe, expect, it } from "vitest";
import { missingServerMessage, resolveCommand } from "../../src/resolve";

const files = new Set(["/usr/local/bin/fim-lsp", "/home/u/.venv/bin/fim-lsp", "/ws/tools/fim-lsp"]);
const exists = (f: string) => files.has(f);

describe("resolveCommand", () => {
  it("looks a bare name up on PATH, first hit wins", () => {
    expect(resolveCommand("fim-lsp", { PATH: "/nowhere:/usr/local/bin:/home/u/.venv/bin" }, exists)).toBe(
      "/usr/local/bin/fim-lsp",
    );
  });

  it("is undefined when the name is nowhere on PATH", () => {
    expect(resolveCommand("fim-lsp", { PATH: "/nowhere:/usr/bin" }, exists)).toBeUndefined();
    expect(resolveCommand("fim-lsp", {}, exists)).toBeUndefined();
    expect(resolveCommand("   ", { PATH: "/usr/local/bin" }, exists)).toBeUndefined();
  });

  it("expands ~ and checks an explicit path", () => {
    expect(resolveCommand("~/.venv/bin/fim-lsp", { HOME: "/home/u" }, exists)).toBe("/home/u/.venv/bin/fim-lsp");
    expect(resolveCommand("/opt/fim-lsp", { PATH: "/usr/local/bin" }, exists)).toBeUndefined();
  });

  it("takes a relative path from the workspace folder", () => {
    expect(resolveCommand("tools/fim-lsp", {}, exists, "/ws")).toBe("/ws/tools/fim-lsp");
  });
});

describe("missingServerMessage", () => {
  it("names the command and the setting that fixes it", () => {
    const msg = missingServerMessage("fim-lsp");
    expect(msg).toContain('"fim-lsp"');
    expect(msg).toContain("fimLsp.server.path");
    expect(msg).toContain("pip install");
  });
});
