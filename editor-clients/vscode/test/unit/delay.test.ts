import { describe, expect, it } from "vitest";
import { Cancellable, delay } from "../../src/common/delay";
import { lspTriggerKind } from "../../src/common/triggerKind";

class Token implements Cancellable {
  isCancellationRequested = false;
  private listeners: (() => void)[] = [];
  onCancellationRequested(listener: () => void) {
    this.listeners.push(listener);
    return { dispose: () => (this.listeners = this.listeners.filter((l) => l !== listener)) };
  }
  cancel() {
    this.isCancellationRequested = true;
    for (const l of this.listeners) l();
  }
  get listening() {
    return this.listeners.length;
  }
}

describe("delay (the debounce)", () => {
  it("resolves true when the wait runs out", async () => {
    const token = new Token();
    const started = Date.now();
    expect(await delay(30, token)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    expect(token.listening).toBe(0);
  });

  it("resolves false at once when cancelled while waiting", async () => {
    const token = new Token();
    const started = Date.now();
    const waiting = delay(5_000, token);
    setTimeout(() => token.cancel(), 10);
    expect(await waiting).toBe(false);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(token.listening).toBe(0);
  });

  it("false for an already-cancelled token, true for 0 ms", async () => {
    const cancelled = new Token();
    cancelled.cancel();
    expect(await delay(10, cancelled)).toBe(false);
    expect(await delay(0, new Token())).toBe(true);
  });
});

describe("lspTriggerKind", () => {
  it("maps VS Code's Invoke=0/Automatic=1 to LSP's Invoked=1/Automatic=2", () => {
    expect(lspTriggerKind(0)).toBe(1);
    expect(lspTriggerKind(1)).toBe(2);
  });
});
