import { strict as assert } from 'node:assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccessLog } from '../../src/core/audit/AccessLog';
import { CredentialBroker } from '../../src/core/credentials/CredentialBroker';
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
      credential: () => assert.fail('no credential while signed out'),
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
    const broker = new CredentialBroker({ identity: sessions, environments: () => envs, sink: log });
    const results = await runDiagnostics({
      idp: idp(),
      session: sessions.current(),
      environments: envs,
      credential: (e, t) => broker.get(e, t),
      verifyAccessLog: () => log.verify(),
      workspaceTrusted: true,
    });
    assert.deepEqual(results.filter((r) => r.status === 'fail'), []);
    assert.equal(results.filter((r) => r.area === 'Environment dev' && r.status === 'ok').length, 3);
    assert.match(results.find((r) => r.area === 'Environment staging')!.message, /Denied: .*ml-staging/);
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
      credential: () => assert.fail(),
      verifyAccessLog: () => log.verify(),
      workspaceTrusted: false,
    });
    assert.ok(bad.some((r) => r.status === 'fail' && /mlspanner\.idp\.clientId/.test(r.message)));
    assert.ok(bad.some((r) => r.status === 'warn' && /not trusted/.test(r.message)));
    const down = await runDiagnostics({
      idp: { ...idp(), issuer: 'http://127.0.0.1:59998' },
      session: undefined,
      environments: { environments: {}, problems: [] },
      credential: () => assert.fail(),
      verifyAccessLog: () => log.verify(),
      workspaceTrusted: true,
    });
    assert.ok(down.some((r) => r.status === 'fail' && /Cannot reach the identity provider/.test(r.message)));
  });
});
