import { readFileSync } from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";

const manifest = JSON.parse(readFileSync(path.join(__dirname, "../../package.json"), "utf8"));
const properties: Record<string, { scope?: string }> = manifest.contributes.configuration.properties;

// How VS Code merges a setting in a remote window (code-server, Remote-SSH): User settings,
// which live with the client, are read only for these scopes; `machine`,
// `machine-overridable` and `application-machine` ones are dropped from them and taken from
// the Remote tab alone (vs/workbench/services/configuration: the local user configuration of
// a remote window is parsed with the application, window, resource and
// language-overridable scopes). An unset scope means `window`.
const READ_FROM_USER_SETTINGS_IN_REMOTE_WINDOW = ["application", "window", "resource", "language-overridable"];
const READ_FROM_REMOTE_TAB = ["machine", "application-machine", "window", "resource", "language-overridable", "machine-overridable"];

describe("package.json settings", () => {
  for (const key of ["fimLsp.server.path", "fimLsp.server.args"]) {
    it(`${key} set in User settings applies in a remote window too (README's way)`, () => {
      const scope = properties[key].scope ?? "window";
      expect(READ_FROM_USER_SETTINGS_IN_REMOTE_WINDOW).toContain(scope);
      expect(READ_FROM_REMOTE_TAB).toContain(scope);
    });
  }

  it("does not run in an untrusted workspace, whose settings could name the program to run", () => {
    expect(manifest.capabilities?.untrustedWorkspaces?.supported).toBe(false);
  });
});
