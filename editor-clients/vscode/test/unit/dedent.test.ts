import { describe, expect, it } from "vitest";
import { dedentOf } from "../../src/dedent";

const BLANK8 = "        ";

describe("dedentOf (items VS Code would draw at the cursor, not where they land)", () => {
  it("a dedent on an auto-indented blank line is drawn at its own column", () => {
    expect(dedentOf(BLANK8, 8, { start: 4, end: 8, text: "return result" })).toEqual({
      start: 4,
      end: 8,
      insert: "return result",
      column: 4,
      shown: "return result",
    });
  });

  it("keeps only the first line: what is drawn is what Tab inserts", () => {
    const d = dedentOf(BLANK8, 8, { start: 4, end: 8, text: "return result\n\n\ndef main():" });
    expect(d?.insert).toBe("return result");
    expect(d?.shown).toBe("return result");
  });

  it("an item that rewrites the whole indentation is drawn after its own whitespace", () => {
    expect(dedentOf(BLANK8, 8, { start: 0, end: 8, text: "    return result" })).toEqual({
      start: 0,
      end: 8,
      insert: "    return result",
      column: 4,
      shown: "return result",
    });
  });

  it("leaves to VS Code what it draws where it lands", () => {
    expect(dedentOf(BLANK8, 8, { start: 8, end: 8, text: "result += 1" })).toBeUndefined(); // insertion
    expect(dedentOf(BLANK8, 8, { start: 4, end: 8, text: "    x = 1" })).toBeUndefined(); // keeps indentation
    expect(dedentOf("    if pre", 10, { start: 7, end: 10, text: "preprocessor:" })).toBeUndefined(); // a word
    expect(dedentOf(BLANK8, 8, { start: 4, end: 8, text: "\n    return result" })).toBeUndefined(); // blank line
    expect(dedentOf(BLANK8, 6, { start: 4, end: 8, text: "return result" })).toBeUndefined(); // not at cursor
  });
});
