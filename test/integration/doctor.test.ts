import { strict as assert } from 'node:assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccessLog } from '../../src/core/audit/AccessLog';
import { GateCredentials } from './gateCredentials';
import { AccessGate } from '../../src/core/access/AccessGate';
import type { IdentitySource } from '../../src/core/auth/IdentitySession';

const signedOut: IdentitySource = { current: () => undefined, fresh: () => Promise.reject(new Error('signed out')) };
import { formatDiagnostics, runDiagnostics } from '../../src/core/doctor/Doctor';
import { resolveEnvironments } from '../../src/core/policy/resolveEnvironments';
import { sandboxIdp, signInAs } from './signInAs';
import { sandbox } from './setup';

describe('doctor against the sandbox', () => {
  const idp = () => sandboxIdp();
  const log = new AccessLog(join(mkdtempSync(join(tmpdir(), 'mlspanner-doctor-')), 'access-log.jsonl'));

  it('signed out: checks settings and the provider, skips credentials', async () => {
    const results = await runDiagnostics({
      idp: idp(),
      session: undefined,
      environments: resolveEnvironments(sandbox().environments),
      gate: new AccessGate({ identity: signedOut, environments: () => resolveEnvironments(sandbox().environments), sink: log }),
      verifyAccessLog: () => log.verify(),
      workspaceTrusted: true,
    });
    assert.deepEqual(results.filter((r) => r.status === 'fail'), []);
    assert.ok(results.some((r) => r.area === 'Identity provider' && /knows the client/.test(r.message)));
    assert.ok(results.some((r) => r.area === 'Session' && r.status === 'skip'));
  });

  it('signed in as bob: dev credentials work, staging and prod are denied with the reason', async () => {
    const sessions = await signInAs('bob', log);
    const envs = resolveEnvironments(sandbox().environments);
    const broker = new GateCredentials({ identity: sessions, environments: () => envs, sink: log });
    const results = await runDiagnostics({
      idp: idp(),
      session: sessions.current(),
      environments: envs,
      gate: broker.gate,
      verifyAccessLog: () => log.verify(),
      workspaceTrusted: true,
    });
    assert.deepEqual(results.filter((r) => r.status === 'fail'), []);
    // Where dev's tokens go, then its three credentials.
    assert.equal(results.filter((r) => r.area === 'Environment dev' && r.status === 'ok').length, 4);
    assert.equal(results.filter((r) => r.area === 'Environment dev' && r.status === 'ok' && / for .*, valid for \d+ s\.$/.test(r.message)).length, 3);
    assert.match(results.find((r) => r.area === 'Environment staging' && r.status === 'skip')!.message, /denied: .*ml-staging/);
    assert.match(results.find((r) => r.area === 'Environment staging' && r.status === 'ok')!.message, /Tokens for staging go to: /);
    const report = formatDiagnostics(results, new Date(0));
    assert.match(report, /# ML Spanner Access: doctor/);
    assert.ok(!report.includes(sessions.current()!.accessToken));
    broker.dispose();
    sessions.dispose();
  });

  it('a wrong client id and an unreachable issuer are failures with the setting to fix', async () => {
    const bad = await runDiagnostics({
      idp: { ...idp(), clientId: 'nobody' },
      session: undefined,
      environments: { environments: {}, problems: [] },
      gate: new AccessGate({ identity: signedOut, environments: () => ({ environments: {}, problems: [] }), sink: log }),
      verifyAccessLog: () => log.verify(),
      workspaceTrusted: false,
    });
    assert.ok(bad.some((r) => r.status === 'fail' && /mlspanner\.idp\.clientId/.test(r.message)));
    assert.ok(bad.some((r) => r.status === 'warn' && /not trusted/.test(r.message)));
    const down = await runDiagnostics({
      idp: { ...idp(), issuer: 'http://127.0.0.1:59998' },
      session: undefined,
      environments: { environments: {}, problems: [] },
      gate: new AccessGate({ identity: signedOut, environments: () => ({ environments: {}, problems: [] }), sink: log }),
      verifyAccessLog: () => log.verify(),
      workspaceTrusted: true,
    });
    assert.ok(down.some((r) => r.status === 'fail' && /Cannot reach the identity provider/.test(r.message)));
  });
});
