import { describe, expect, it } from "vitest";
import { lastLine, parseModelList } from "../../src/models";

// The shape `fim-lsp model list` prints (taken from a real run, descriptions shortened).
const LISTING = `qwen2.5-coder-0.5b-offline     downloaded Qwen2.5-Coder 0.5B Instruct Q4_K_M (default, tests)
qwen2.5-coder-1.5b             -          Qwen2.5-Coder 1.5B base Q8_0
starcoder2-3b                  -          StarCoder2 3B Q4_K_M

cache: /root/.cache/fim-lsp/models  (any local .gguf path works too)
`;

describe("parseModelList", () => {
  it("takes the first word of each line as the name", () => {
    const models = parseModelList(LISTING);
    expect(models.map((m) => m.name)).toEqual([
      "qwen2.5-coder-0.5b-offline",
      "qwen2.5-coder-1.5b",
      "starcoder2-3b",
    ]);
    expect(models[0].description).toBe("downloaded Qwen2.5-Coder 0.5B Instruct Q4_K_M (default, tests)");
  });

  it("skips headers, rules, comments and duplicates; * marks the current one", () => {
    const models = parseModelList("NAME  STATUS\n-----\n# note\n* a  x\n- b  y\na again\n");
    expect(models).toEqual([
      { name: "a", description: "x", current: true },
      { name: "b", description: "y", current: false },
    ]);
  });

  it("is empty for empty output", () => {
    expect(parseModelList("")).toEqual([]);
  });
});

describe("lastLine", () => {
  it("gives the last non-empty line, \\r progress included", () => {
    expect(lastLine("10%\r20%\r30%\n")).toBe("30%");
    expect(lastLine("\n\n")).toBe("");
  });
});
