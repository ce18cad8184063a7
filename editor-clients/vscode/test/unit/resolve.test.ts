import { describe, expect, it } from "vitest";
import {
  installCommandLine,
  missingServerMessage,
  portablePath,
  resolveCommand,
  serverCandidates,
  serverSettingsCommand,
} from "../../src/resolve";

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
  });

  it("points at the install that works, not at a package no index has", () => {
    const msg = missingServerMessage("fim-lsp");
    expect(msg).not.toMatch(/pip install fim-lsp/);
    expect(msg).toContain("scripts/install.sh");
    expect(msg).toContain("~/.local/bin/fim-lsp");
  });
});

describe("serverCandidates", () => {
  it("tries the install script's link after the default name", () => {
    expect(serverCandidates("fim-lsp", { HOME: "/home/u" })).toEqual(["fim-lsp", "/home/u/.local/bin/fim-lsp"]);
    expect(serverCandidates("fim-lsp", { HOME: "/home/u", XDG_BIN_HOME: "/opt/bin" })).toEqual([
      "fim-lsp",
      "/opt/bin/fim-lsp",
    ]);
  });

  it("takes a configured command as it is", () => {
    expect(serverCandidates("~/.venv/bin/fim-lsp", { HOME: "/home/u" })).toEqual(["~/.venv/bin/fim-lsp"]);
    expect(serverCandidates("fim-lsp", {})).toEqual(["fim-lsp"]);
  });
});

describe("installCommandLine", () => {
  it("runs the checkout's scripts/install.sh, quoted for the shell", () => {
    expect(installCommandLine("/home/u/src/fim-lsp")).toBe("bash '/home/u/src/fim-lsp/scripts/install.sh'");
    expect(installCommandLine("/home/u/it's here")).toBe("bash '/home/u/it'\\''s here/scripts/install.sh'");
  });
});

describe("portablePath", () => {
  it("writes a file under the home folder as ~/...", () => {
    expect(portablePath("/home/u/.local/bin/fim-lsp", "/home/u")).toBe("~/.local/bin/fim-lsp");
  });

  it("keeps other paths, and all paths when there is no home", () => {
    expect(portablePath("/opt/fim-lsp/bin/fim-lsp", "/home/u")).toBe("/opt/fim-lsp/bin/fim-lsp");
    expect(portablePath("/home/user2/fim-lsp", "/home/u")).toBe("/home/user2/fim-lsp");
    expect(portablePath("/home/u", "/home/u")).toBe("/home/u");
    expect(portablePath("/home/u/fim-lsp", undefined)).toBe("/home/u/fim-lsp");
  });
});

describe("serverSettingsCommand", () => {
  it("opens the User tab in a local window", () => {
    expect(serverSettingsCommand(undefined)).toEqual({
      command: "workbench.action.openSettings",
      arg: "fimLsp.server",
    });
  });

  it("opens the Remote tab, which applies to the server's machine, in a remote window", () => {
    for (const remote of ["ssh-remote", "localhost:8080", "wsl"]) {
      expect(serverSettingsCommand(remote)).toEqual({
        command: "workbench.action.openRemoteSettings",
        arg: { query: "fimLsp.server" },
      });
    }
  });
});
