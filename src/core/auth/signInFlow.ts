/** Which sign-in flow to use. A pure decision, tested by a table. */
export type FlowSetting = 'auto' | 'loopback' | 'deviceCode';
export type SignInFlow = 'loopback' | 'deviceCode';

export interface FlowContext {
  setting: FlowSetting;
  /** vscode.env.remoteName: 'ssh-remote', 'wsl', 'dev-container', 'codespaces', … or undefined. */
  remoteName?: string;
  /**
   * Whether the browser can reach a loopback server in the extension host: true on a desktop
   * window, and in a web window whose forwarded callback address is still a loopback address
   * (a browser on the same machine, as with a local code-server).
   */
  loopbackReachable: boolean;
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
  // auto: the loopback redirect (RFC 8252 §7.3) when the browser can reach this machine,
  // otherwise the device code flow, made for devices whose browser is elsewhere (RFC 8628).
  const remote = ctx.remoteName !== undefined && ctx.remoteName !== '';
  if ((remote || !ctx.loopbackReachable) && ctx.deviceFlowSupported) return { flow: 'deviceCode' };
  return { flow: 'loopback' };
}
