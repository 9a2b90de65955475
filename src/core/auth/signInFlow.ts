/** Which sign-in flow to use. A pure decision, tested by a table. */
export type FlowSetting = 'auto' | 'loopback' | 'deviceCode';
export type SignInFlow = 'loopback' | 'deviceCode';

export interface FlowContext {
  setting: FlowSetting;
  /** vscode.env.remoteName: 'ssh-remote', 'wsl', 'dev-container', 'codespaces', … or undefined. */
  remoteName?: string;
  /** vscode.env.uiKind: a desktop window, or the workbench in a browser (code-server, vscode.dev). */
  uiKind: 'desktop' | 'web';
  /**
   * Web only: the browser reaches the workbench on a loopback address (asExternalUri keeps a
   * loopback host), so the browser runs on the machine of the extension host and can reach a
   * loopback server there, as with a local code-server.
   */
  browserOnThisMachine: boolean;
  /** The IdP advertises `device_authorization_endpoint` (RFC 8628 §4). */
  deviceFlowSupported: boolean;
}

export interface FlowDecision {
  flow: SignInFlow;
  /** Set when the decision overrides what was asked, to tell the user why. */
  note?: string;
}

export function chooseSignInFlow(ctx: FlowContext): FlowDecision {
  if (ctx.setting === 'loopback') return { flow: 'loopback' };
  if (ctx.setting === 'deviceCode') {
    return ctx.deviceFlowSupported
      ? { flow: 'deviceCode' }
      : { flow: 'loopback', note: 'The identity provider does not offer the device code flow; using the browser redirect instead.' };
  }
  // auto: the loopback redirect (RFC 8252 §7.3) when the browser can reach this machine's
  // loopback interface, otherwise the device code flow, made for a browser elsewhere (RFC 8628).
  const reachable = ctx.uiKind === 'web' ? ctx.browserOnThisMachine : !ctx.remoteName;
  if (!reachable && ctx.deviceFlowSupported) return { flow: 'deviceCode' };
  return { flow: 'loopback' };
}
