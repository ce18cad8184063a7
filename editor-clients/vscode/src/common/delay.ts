/** Something that can be cancelled; vscode.CancellationToken fits. */
export interface Cancellable {
  readonly isCancellationRequested: boolean;
  onCancellationRequested(listener: () => void): { dispose(): void };
}

/**
 * Waits `ms` milliseconds. Resolves true when the wait ran out, false as soon as the token is
 * cancelled (VS Code cancels an inline-completion request when the user types on). This is the
 * debounce: a request that survives the wait goes to the server.
 */
export function delay(ms: number, token: Cancellable): Promise<boolean> {
  if (token.isCancellationRequested) {
    return Promise.resolve(false);
  }
  if (ms <= 0) {
    return Promise.resolve(true);
  }
  return new Promise((resolve) => {
    const sub = token.onCancellationRequested(() => {
      clearTimeout(timer);
      sub.dispose();
      resolve(false);
    });
    const timer = setTimeout(() => {
      sub.dispose();
      resolve(!token.isCancellationRequested);
    }, ms);
  });
}
