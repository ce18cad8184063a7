// Finding the server executable. Pure apart from the injected file check.
import * as path from "path";

export interface ResolveEnv {
  PATH?: string;
  HOME?: string;
  XDG_BIN_HOME?: string;
}

/** True when a regular, executable file exists at the path. */
export type ExecutableCheck = (file: string) => boolean;

/**
 * Resolves the configured server command to an absolute path, or undefined when it is not
 * there. A bare name is looked up on PATH; `~/` is expanded; a relative path with a slash is
 * taken from the workspace folder, when there is one.
 */
export function resolveCommand(
  command: string,
  env: ResolveEnv,
  isExecutable: ExecutableCheck,
  workspaceFolder?: string,
): string | undefined {
  let cmd = command.trim();
  if (!cmd) {
    return undefined;
  }
  if ((cmd === "~" || cmd.startsWith("~/")) && env.HOME) {
    cmd = path.join(env.HOME, cmd.slice(1));
  }
  if (cmd.includes("/")) {
    const full = path.isAbsolute(cmd) ? cmd : path.resolve(workspaceFolder ?? process.cwd(), cmd);
    return isExecutable(full) ? full : undefined;
  }
  for (const dir of (env.PATH ?? "").split(path.delimiter)) {
    if (!dir) {
      continue;
    }
    const candidate = path.join(dir, cmd);
    if (isExecutable(candidate)) {
      return candidate;
    }
  }
  return undefined;
}

/**
 * Where to look for the server: the configured command, then, while that is the default bare
 * name, the link scripts/install.sh makes (~/.local/bin/fim-lsp): that folder is often on the
 * shell's PATH but not on the one an editor started from a desktop launcher inherits.
 */
export function serverCandidates(command: string, env: ResolveEnv): string[] {
  const candidates = [command];
  if (command.trim() === "fim-lsp") {
    const bin = env.XDG_BIN_HOME || (env.HOME ? path.join(env.HOME, ".local/bin") : undefined);
    if (bin) {
      candidates.push(path.join(bin, "fim-lsp"));
    }
  }
  return candidates;
}

/** The shell command that runs a checkout's install script (POSIX shell quoting; bash, so a
 * checkout unpacked without its executable bits works too). */
export function installCommandLine(checkout: string): string {
  const script = path.join(checkout, "scripts", "install.sh");
  return `bash '${script.replace(/'/g, "'\\''")}'`;
}

/** A path under the home folder as `~/...`, so that it names the same file on another machine. */
export function portablePath(file: string, home: string | undefined): string {
  if (!home) {
    return file;
  }
  const rel = path.relative(home, file);
  return rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? `~/${rel}` : file;
}

/**
 * The settings editor on `fimLsp.server.*`. In a remote window (code-server, Remote-SSH, WSL,
 * containers) the server runs on the remote machine, so its path belongs in the Remote tab,
 * which wins over User settings there; elsewhere the User tab.
 */
export function serverSettingsCommand(remoteName: string | undefined): { command: string; arg: unknown } {
  const query = "fimLsp.server";
  return remoteName
    ? { command: "workbench.action.openRemoteSettings", arg: { query } }
    : { command: "workbench.action.openSettings", arg: query };
}

/** The message shown when the server is missing; the fix-its are the buttons beside it. */
export function missingServerMessage(command: string): string {
  return (
    `fim-lsp: cannot find the server command "${command}". ` +
    `Install it with scripts/install.sh from a fim-lsp checkout (the Install… button runs it) ` +
    `or set "fimLsp.server.path" to the fim-lsp executable, e.g. ~/.local/bin/fim-lsp.`
  );
}
