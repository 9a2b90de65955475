import { strict as assert } from 'node:assert';
import type { SessionManager } from '../../src/core/auth/SessionManager';
import { AccessGate } from '../../src/core/access/AccessGate';
import { SecretsClient, storeSecret } from '../../src/core/databricks/SecretsClient';
import { ServiceError, createHttpClient } from '../../src/core/http/HttpClient';
import { resolveEnvironments } from '../../src/core/policy/resolveEnvironments';
import { scanSecrets } from '../../src/core/secrets/scanSecrets';
import { secretScopeFix, secretValue } from '../../src/core/secrets/secretFixes';
import { startDatabricksWorkspace, type DatabricksWorkspaceHandle } from '../../sandbox/databricks/DatabricksWorkspace';
import { startTestIssuer, type TestIssuer } from '../../sandbox/TestIssuer';
import { signInAs } from './signInAs';
import { sandbox } from './setup';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
// A fake Databricks PAT, random, made for this test: the value the quick fix moves.
const FAKE_PAT = 'dapi7d2f9a41c06be83e5f1a2c94b7d0e6f3';

/** Unique per run: scopes live as long as the sandbox. */
const scopeName = (what: string) => `${what}-${process.pid}-${Math.floor(Math.random() * 1e6)}`;

describe('Secrets API 2.0: the client against the sandbox workspaces', function () {
  this.timeout(30_000);
  const sessions: Record<string, SessionManager> = {};
  const gates: AccessGate[] = [];

  before(async () => {
    for (const user of ['alice', 'bob']) sessions[user] = await signInAs(user);
  });
  after(() => {
    for (const g of gates) g.dispose();
    for (const m of Object.values(sessions)) m.dispose();
  });

  /** The client the quick fix gets: the access gate grants 'secretScope', its token source gives ephemeral tokens. */
  function clientFor(user: string, environment: 'dev' | 'staging') {
    const gate = new AccessGate({
      identity: sessions[user],
      environments: () => resolveEnvironments(sandbox().environments),
      http: (service) => createHttpClient({ service, retry: { maxRetries: 1, baseDelayMs: 50 } }),
      sink: { record: () => undefined },
    });
    gates.push(gate);
    const d = gate.request({ environment, purpose: 'secretScope', targets: ['databricks'] });
    assert.equal(d.kind, 'granted', d.kind === 'denied' ? d.reason : d.kind);
    return new SecretsClient(sandbox().databricks[environment], gate.tokenSource(d.grant, 'databricks'));
  }

  it('moves a literal into a new scope with an ephemeral token, then lists the key (never the value)', async () => {
    const text = `from databricks.sdk import WorkspaceClient\nw = WorkspaceClient(token="${FAKE_PAT}")\n`;
    const [finding] = scanSecrets(text, 'python');
    const value = secretValue(text, 'python', finding);
    const client = clientFor('alice', 'dev');
    const scope = scopeName('ml-alice');

    const stored = await storeSecret(client, { scope, key: 'databricks-token', value, createScope: true });
    assert.deepEqual(stored, { scope, key: 'databricks-token', createdScope: true });

    const fix = secretScopeFix(text, 'python', finding, scope, 'databricks-token');
    assert.ok(fix);
    assert.equal(fix.edits.length, 1);
    const after = text.slice(0, fix.edits[0].start) + fix.edits[0].newText + text.slice(fix.edits[0].end);
    assert.equal(after, `from databricks.sdk import WorkspaceClient\nw = WorkspaceClient(token=dbutils.secrets.get(scope="${scope}", key="databricks-token"))\n`);

    const listed = await client.listSecrets(scope);
    assert.deepEqual(listed.map((s) => s.key), ['databricks-token']);
    assert.equal(typeof listed[0].last_updated_timestamp, 'number');
    assert.ok(!JSON.stringify(listed).includes(FAKE_PAT.slice(4)), 'list answers never carry values');
    assert.ok((await client.listScopes()).some((s) => s.name === scope && s.backend_type === 'DATABRICKS'));
    // Storing again into the existing scope overwrites; the scope is not created twice.
    assert.deepEqual(await storeSecret(client, { scope, key: 'databricks-token', value, createScope: true }), { scope, key: 'databricks-token', createdScope: false });
  });

  it('refuses a put into a scope where the user has no WRITE, until its owner grants it', async () => {
    const alice = clientFor('alice', 'dev');
    const bob = clientFor('bob', 'dev');
    const scope = scopeName('ml-owned-by-alice');
    assert.equal(await alice.createScope(scope), 'created');

    const denied = await bob.putSecret(scope, 'k', 'v').then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(denied instanceof ServiceError, String(denied));
    assert.equal(denied.status, 403);
    assert.equal(denied.code, 'PERMISSION_DENIED');
    assert.equal(denied.kind, 'denied', 'a missing permission, not a lost sign-in');
    assert.match(denied.display, /WRITE or MANAGE on scope/);

    await alice.putAcl(scope, 'bob@example.com', 'READ');
    await assert.rejects(bob.putSecret(scope, 'k', 'v'), (e: ServiceError) => e.code === 'PERMISSION_DENIED', 'READ does not allow a put');
    assert.deepEqual(await bob.listSecrets(scope), [], 'READ allows listing');
    await alice.putAcl(scope, 'bob@example.com', 'WRITE');
    await bob.putSecret(scope, 'k', 'v');
    assert.deepEqual((await bob.listSecrets(scope)).map((s) => s.key), ['k']);
    await assert.rejects(bob.listAcls(scope), (e: ServiceError) => e.code === 'PERMISSION_DENIED', 'only MANAGE lists ACLs');
    assert.deepEqual(
      (await alice.listAcls(scope)).sort((a, b) => a.principal.localeCompare(b.principal)),
      [
        { principal: 'alice@example.com', permission: 'MANAGE' },
        { principal: 'bob@example.com', permission: 'WRITE' },
      ],
    );
  });

  it('names an unknown scope, an existing scope and an invalid name in the service\'s error codes', async () => {
    const alice = clientFor('alice', 'staging');
    await assert.rejects(alice.putSecret(scopeName('missing'), 'k', 'v'), (e: ServiceError) => e.status === 404 && e.code === 'RESOURCE_DOES_NOT_EXIST' && /exists in this workspace/.test(e.display));
    const scope = scopeName('twice');
    assert.equal(await alice.createScope(scope), 'created');
    assert.equal(await alice.createScope(scope), 'exists');
    await assert.rejects(alice.createScope('no spaces'), /not a valid secret scope name/);
  });
});

describe('Secrets API 2.0: the workspace emulator on the wire', function () {
  this.timeout(20_000);
  let issuer: TestIssuer;
  let ws: DatabricksWorkspaceHandle;

  before(async () => {
    issuer = await startTestIssuer();
    ws = await startDatabricksWorkspace({ host: '127.0.0.1', port: 0, name: 'secrets', trust: issuer.trust, quiet: true });
  });
  after(async () => {
    await ws?.close();
    await issuer?.close();
  });

  async function tokenFor(sub: string, groups: string[] = []): Promise<string> {
    const res = await fetch(`${ws.url}/oidc/v1/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: TOKEN_EXCHANGE, subject_token: await issuer.sign({ sub, email: `${sub}@corp.test`, groups }), subject_token_type: JWT_TYPE, scope: 'all-apis' }),
    });
    assert.equal(res.status, 200);
    return ((await res.json()) as { access_token: string }).access_token;
  }

  async function call(token: string | undefined, method: 'GET' | 'POST', path: string, body?: unknown) {
    const res = await fetch(`${ws.url}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, text: await res.text() };
  }

  it('verifies the bearer token like every other endpoint', async () => {
    const r = await call(undefined, 'GET', '/api/2.0/secrets/scopes/list');
    assert.equal(r.status, 401);
    assert.match(r.text, /UNAUTHENTICATED/);
    assert.equal((await call('dose' + '0'.repeat(64), 'GET', '/api/2.0/secrets/scopes/list')).status, 401);
  });

  it('stores the exact value and never returns it in any answer', async () => {
    const token = await tokenFor('dana');
    const value = '-----BEGIN PRIVATE KEY-----\nMIIEq7Lk2Xv9Rt4Wz8Np1Hs5Jd3Gf6Qa0Ub\n-----END PRIVATE KEY-----';
    const answers = [
      await call(token, 'POST', '/api/2.0/secrets/scopes/create', { scope: 'tls', initial_manage_principal: 'users' }),
      await call(token, 'POST', '/api/2.0/secrets/put', { scope: 'tls', key: 'server-key', string_value: value }),
      await call(token, 'GET', '/api/2.0/secrets/list?scope=tls'),
      await call(token, 'GET', '/api/2.0/secrets/scopes/list'),
      await call(token, 'GET', '/api/2.0/secrets/acls/list?scope=tls'),
    ];
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 200, 200]);
    for (const a of answers) assert.ok(!a.text.includes('MIIE'), `no value in ${a.text}`);
    assert.equal(ws.knobs.secrets().storedValue('tls', 'server-key'), value);
    assert.deepEqual(JSON.parse(answers[4].text), { items: [{ principal: 'users', permission: 'MANAGE' }] }, 'initial_manage_principal=users');
  });

  it('answers the contract\'s status codes: 409 exists, 404 unknown, 403 denied, 400 invalid', async () => {
    const owner = await tokenFor('erin');
    const other = await tokenFor('frank');
    const admin = await tokenFor('grace', ['admins']);
    assert.equal((await call(owner, 'POST', '/api/2.0/secrets/scopes/create', { scope: 'erin-only' })).status, 200);
    const exists = await call(owner, 'POST', '/api/2.0/secrets/scopes/create', { scope: 'ERIN-ONLY' });
    assert.equal(exists.status, 409, 'scope names are case-insensitive');
    assert.match(exists.text, /RESOURCE_ALREADY_EXISTS/);
    const unknown = await call(owner, 'GET', '/api/2.0/secrets/list?scope=nope');
    assert.equal(unknown.status, 404);
    assert.match(unknown.text, /RESOURCE_DOES_NOT_EXIST/);
    const denied = await call(other, 'POST', '/api/2.0/secrets/put', { scope: 'erin-only', key: 'k', string_value: 'v' });
    assert.equal(denied.status, 403);
    assert.match(denied.text, /PERMISSION_DENIED/);
    assert.equal((await call(other, 'POST', '/api/2.0/secrets/scopes/delete', { scope: 'erin-only' })).status, 403);
    assert.equal((await call(admin, 'POST', '/api/2.0/secrets/put', { scope: 'erin-only', key: 'k', string_value: 'v' })).status, 200, 'workspace admins manage every scope');
    for (const bad of [
      { scope: 'erin-only', key: 'a/b', string_value: 'v' },
      { scope: 'erin-only', key: 'k' },
      { scope: 'erin-only', key: 'k', string_value: 'v', bytes_value: 'dg==' },
    ])
      assert.equal((await call(owner, 'POST', '/api/2.0/secrets/put', bad)).status, 400, JSON.stringify(bad));
    assert.equal((await call(owner, 'POST', '/api/2.0/secrets/delete', { scope: 'erin-only', key: 'missing' })).status, 404);
    assert.equal((await call(owner, 'POST', '/api/2.0/secrets/delete', { scope: 'erin-only', key: 'k' })).status, 200);
    assert.equal((await call(owner, 'POST', '/api/2.0/secrets/scopes/delete', { scope: 'erin-only' })).status, 200);
    assert.equal((await call(owner, 'GET', '/api/2.0/secrets/list?scope=erin-only')).status, 404);
  });
});
