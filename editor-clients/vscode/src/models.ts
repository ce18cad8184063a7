// `fim-lsp model list` output and the quick-pick built from it. Pure.

export interface ModelEntry {
  name: string;
  description: string;
  /** The line marks the model as the one in use ("*" before its name). */
  current: boolean;
}

const HEADER = /^(name|model|preset)s?\b/i;

/**
 * Parses `fim-lsp model list`: one model a line, its name first, then free text. Blank lines,
 * `#` comments, a header line, rule lines and `key: value` trailers are skipped; a leading `*`
 * or `-` marker is dropped (`*` is taken to mean "current").
 */
export function parseModelList(stdout: string): ModelEntry[] {
  const out: ModelEntry[] = [];
  const seen = new Set<string>();
  for (const raw of stdout.split(/\r?\n/)) {
    let line = raw.trim();
    if (!line || line.startsWith("#") || /^[-=\s]+$/.test(line) || HEADER.test(line)) {
      continue;
    }
    let current = false;
    if (line.startsWith("* ")) {
      current = true;
      line = line.slice(2).trim();
    } else if (line.startsWith("- ")) {
      line = line.slice(2).trim();
    }
    const match = /^(\S+)\s*(.*)$/.exec(line);
    // "cache: /path" and similar trailers are not models.
    if (!match || match[1].endsWith(":") || seen.has(match[1])) {
      continue;
    }
    seen.add(match[1]);
    out.push({ name: match[1], description: match[2].trim(), current });
  }
  return out;
}

/** The last non-empty line of streamed output, for a one-line progress message. */
export function lastLine(text: string): string {
  const lines = text.split(/[\r\n]+/).map((l) => l.trim()).filter(Boolean);
  return lines.length ? lines[lines.length - 1] : "";
}
