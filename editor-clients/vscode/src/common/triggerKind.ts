/**
 * VS Code numbers inline-completion triggers Invoke = 0, Automatic = 1; LSP 3.18 numbers them
 * Invoked = 1, Automatic = 2. vscode-languageclient 9.0.1 copies VS Code's number into the
 * request unchanged (code2ProtocolConverter.asInlineCompletionParams), and a server built on
 * lsprotocol rejects 0 ("0 is not a valid InlineCompletionTriggerKind"), so the request fails.
 * The middleware therefore hands the converter the LSP number.
 */
export function lspTriggerKind(vscodeKind: number): number {
  return vscodeKind === 0 ? 1 : 2;
}
