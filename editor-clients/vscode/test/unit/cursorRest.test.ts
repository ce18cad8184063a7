import { describe, expect, it } from "vitest";
import { CursorRest, EDIT_MOVE_MS } from "../../src/cursorRest";

describe("CursorRest", () => {
  it("reports a move in a document never edited (a file just opened, a click)", () => {
    const rest = new CursorRest();
    expect(rest.moved("a", 1000)).toBe(true);
    expect(rest.due("a", 1000)).toBe(true);
  });

  it("does not report the move an edit made (typing)", () => {
    const rest = new CursorRest();
    rest.edited("a", 1000);
    expect(rest.moved("a", 1000 + EDIT_MOVE_MS - 1)).toBe(false);
  });

  it("reports a move long after the last edit, unless an edit came while it rested", () => {
    const rest = new CursorRest();
    rest.edited("a", 1000);
    expect(rest.moved("a", 5000)).toBe(true);
    expect(rest.due("a", 5000)).toBe(true);
    rest.edited("a", 5100);
    expect(rest.due("a", 5000)).toBe(false);
  });

  it("keeps documents apart and forgets closed ones", () => {
    const rest = new CursorRest();
    rest.edited("a", 1000);
    expect(rest.moved("b", 1001)).toBe(true);
    rest.forget("a");
    expect(rest.moved("a", 1001)).toBe(true);
  });
});
