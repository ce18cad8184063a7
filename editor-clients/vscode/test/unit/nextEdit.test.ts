import { readFileSync } from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { NEXT_EDIT_VISIBLE, NextEdit, NextEditSession, chooseEdit, drawingOf, endAfter, parseEdits } from "../../src/nextEdit";
import { readSettings, toServerSettings } from "../../src/settings";

const URI = "file:///w/scale.py";
const at = (line: number, character: number) => ({ line, character });
const range = (sl: number, sc: number, el: number, ec: number) => ({ start: at(sl, sc), end: at(el, ec) });

// `size` renamed to `factor` in `def scale(...)`; its use on line 3 follows.
const RENAME: NextEdit = { ...range(3, 23, 3, 27), text: "factor" };

describe("parseEdits (fimLsp/inlineEdit's result)", () => {
  it("keeps this document's edits at the asked version, in document order", () => {
    const result = {
      edits: [
        { text: "b", textDocument: { uri: URI, version: 7 }, range: range(5, 0, 5, 1) },
        { text: "factor", textDocument: { uri: URI, version: 7 }, range: range(3, 23, 3, 27) },
      ],
    };
    expect(parseEdits(result, URI, 7)).toEqual([RENAME, { ...range(5, 0, 5, 1), text: "b" }]);
  });

  it("drops edits for another version or document, and malformed ones", () => {
    const result = {
      edits: [
        { text: "x", textDocument: { uri: URI, version: 6 }, range: range(1, 0, 1, 1) },
        { text: "x", textDocument: { uri: "file:///other.py", version: 7 }, range: range(1, 0, 1, 1) },
        { text: "x", textDocument: { uri: URI, version: 7 }, range: range(2, 4, 2, 1) }, // end before start
        { text: 3, textDocument: { uri: URI, version: 7 }, range: range(1, 0, 1, 1) },
        { text: "x", textDocument: { uri: URI, version: 7 }, range: { start: at(-1, 0), end: at(1, 0) } },
        { text: "x", textDocument: { uri: URI, version: 7 } },
      ],
    };
    expect(parseEdits(result, URI, 7)).toEqual([]);
    expect(parseEdits(null, URI, 7)).toEqual([]);
    expect(parseEdits({ edits: "no" }, URI, 7)).toEqual([]);
  });
});

describe("drawingOf (decorations)", () => {
  it("a replacement: its range struck through, the new text after it", () => {
    expect(drawingOf(RENAME)).toEqual({ deleted: range(3, 23, 3, 27), inserted: { at: at(3, 27), label: "factor" } });
  });

  it("an insertion has nothing struck; a deletion nothing inserted", () => {
    expect(drawingOf({ ...range(2, 4, 2, 4), text: "verbose, " })).toEqual({
      inserted: { at: at(2, 4), label: "verbose, " },
    });
    expect(drawingOf({ ...range(2, 4, 2, 13), text: "" })).toEqual({ deleted: range(2, 4, 2, 13) });
  });

  it("a multi-line text is one label, its line breaks marked", () => {
    expect(drawingOf({ ...range(2, 0, 2, 0), text: "if v:\n    print(t)\n" }).inserted?.label).toBe("if v:⏎    print(t)⏎");
  });
});

describe("chooseEdit and endAfter", () => {
  const first: NextEdit = { ...range(1, 0, 1, 2), text: "a" };
  it("shows the first edit after the cursor, else the first", () => {
    expect(chooseEdit([first, RENAME], at(2, 0))).toEqual(RENAME);
    expect(chooseEdit([first, RENAME], at(9, 0))).toEqual(first);
    expect(chooseEdit([], at(0, 0))).toBeUndefined();
  });

  it("the cursor goes after the new text", () => {
    expect(endAfter(RENAME)).toEqual(at(3, 29));
    expect(endAfter({ ...range(2, 4, 2, 4), text: "x = 1\n    y" })).toEqual(at(3, 5));
  });
});

describe("NextEditSession (shown → jumped → accepted / dismissed; stale answers dropped)", () => {
  const cursor = at(0, 16); // in the def line, after the rename

  it("an answer for the asked version is shown; Tab jumps, Tab again accepts", () => {
    const s = new NextEditSession();
    expect(s.phase).toBe("idle");
    const ticket = s.ask(7);
    expect(s.answer(ticket, 7, [RENAME], cursor)).toEqual(RENAME);
    expect(s.phase).toBe("shown");
    expect(s.tab(cursor, 7)).toEqual({ kind: "jump", to: at(3, 23) });
    expect(s.phase).toBe("jumped");
    s.cursorMoved(at(3, 23));
    expect(s.tab(at(3, 23), 7)).toEqual({ kind: "accept", edit: RENAME, cursor: at(3, 29) });
    expect(s.phase).toBe("idle");
    expect(s.shown).toBeUndefined();
  });

  it("moving off the edit after a jump makes Tab jump again; Escape dismisses", () => {
    const s = new NextEditSession();
    s.answer(s.ask(7), 7, [RENAME], cursor);
    s.tab(cursor, 7);
    s.cursorMoved(at(1, 0));
    expect(s.phase).toBe("shown");
    expect(s.tab(at(1, 0), 7).kind).toBe("jump");
    expect(s.dismiss()).toBe(true);
    expect(s.phase).toBe("idle");
    expect(s.dismiss()).toBe(false);
    expect(s.tab(at(3, 23), 7)).toEqual({ kind: "none" });
  });

  it("drops an answer for a version the document has left, or to a replaced request", () => {
    const s = new NextEditSession();
    const old = s.ask(7);
    expect(s.answer(old, 8, [RENAME], cursor)).toBeUndefined(); // typed on meanwhile
    const first = s.ask(8);
    const second = s.ask(8);
    expect(s.answer(first, 8, [RENAME], cursor)).toBeUndefined(); // superseded
    expect(s.answer(second, 8, [RENAME], cursor)).toEqual(RENAME);
    const third = s.ask(9);
    s.changed();
    expect(s.answer(third, 9, [RENAME], cursor)).toBeUndefined(); // a change after the request
    expect(s.phase).toBe("idle");
  });

  it("a change hides what is shown; Tab on a changed document does nothing", () => {
    const s = new NextEditSession();
    s.answer(s.ask(7), 7, [RENAME], cursor);
    expect(s.tab(at(3, 23), 8)).toEqual({ kind: "none" });
    expect(s.phase).toBe("idle");
    s.answer(s.ask(8), 8, [RENAME], cursor);
    s.changed();
    expect(s.shown).toBeUndefined();
  });

  it("an empty answer shows nothing", () => {
    const s = new NextEditSession();
    expect(s.answer(s.ask(7), 7, [], cursor)).toBeUndefined();
    expect(s.phase).toBe("idle");
  });
});

describe("settings and keybindings", () => {
  it("fimLsp.nextEdit is on by default and always sent to the server as nextEdit", () => {
    const from = (values: Record<string, unknown>) => readSettings((k) => values[k], ["llama_cpp"]);
    expect(toServerSettings(from({})).nextEdit).toBe(true);
    expect(toServerSettings(from({ nextEdit: false })).nextEdit).toBe(false);
    expect(from({ nextEdit: "no" }).nextEdit).toBe(true);
  });

  const manifest = JSON.parse(readFileSync(path.join(__dirname, "../../package.json"), "utf8"));
  const bindings: { command: string; key: string; when: string }[] = manifest.contributes.keybindings;

  it("Tab goes to the next edit only while one is shown and no inline suggestion or menu is", () => {
    const tab = bindings.find((b) => b.command === "fimLsp.nextEditTab");
    expect(tab?.key).toBe("tab");
    for (const clause of [NEXT_EDIT_VISIBLE, "!inlineSuggestionVisible", "!suggestWidgetVisible", "!inSnippetMode"]) {
      expect(tab?.when.split(" && ")).toContain(clause);
    }
    const escape = bindings.find((b) => b.command === "fimLsp.hideNextEdit");
    expect(escape?.key).toBe("escape");
    expect(escape?.when.split(" && ")).toContain(NEXT_EDIT_VISIBLE);
    expect(manifest.contributes.configuration.properties["fimLsp.nextEdit"].default).toBe(true);
  });
});
