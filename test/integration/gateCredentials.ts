import { AccessGate, type AccessGateOptions } from '../../src/core/access/AccessGate';
import type { Credential } from '../../src/core/credentials/Credential';

/**
 * Credentials the way the extension gets them: through the access gate (a confirm environment
 * is confirmed with a test reason). For integration tests that exercise the exchanges.
 */
export class GateCredentials {
  readonly gate: AccessGate;

  constructor(options: AccessGateOptions) {
    this.gate = new AccessGate(options);
  }

  async get(environment: string, target: string, opts: { forceRefresh?: boolean } = {}): Promise<Credential> {
    const req = { environment, purpose: 'refresh' as const, targets: [target] };
    const d = this.gate.request(req);
    if (d.kind === 'denied') throw d.error;
    const grant = d.kind === 'granted' ? d.grant : this.gate.confirm(req, 'integration test');
    return this.gate.credential(grant, target, opts);
  }

  peek() {
    return this.gate.credentials.peek();
  }

  dispose(): void {
    this.gate.dispose();
  }
}
