import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { AccessGate, type Grant } from '../../src/core/access/AccessGate';
import type { AccessEventInput } from '../../src/core/audit/AccessLog';
import type { SessionManager } from '../../src/core/auth/SessionManager';
import type { Credential } from '../../src/core/credentials/Credential';
import { CredentialEndpointServer, mergeNoProxy, type EndpointCredentialSource, type EndpointRegistration } from '../../src/core/endpoints/CredentialEndpointServer';
import type { EndpointTarget } from '../../src/core/endpoints/endpointProtocols';
import { createHttpClient } from '../../src/core/http/HttpClient';
import { resolveEnvironments } from '../../src/core/policy/resolveEnvironments';
import { indexOfToken, looksLikeToken } from '../../src/core/redact';
import { SANDBOX_PROJECT } from '../../sandbox';
import { sandbox } from './setup';
import { signInAs } from './signInAs';

/**
 * The local credential endpoints proven with clients nobody here wrote: the AWS CLI and boto3
 * (botocore's container provider), google-auth-library (external_account_authorized_user) and
 * the Databricks SDKs' metadata-service request. Credentials come from the real access gate and
 * broker, exchanged at the sandbox emulators with alice's real IdP session.
 */

const REPO = path.resolve(__dirname, '../..');
const sha = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 16);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs a command to completion without blocking this process (the endpoints answer from it). */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, cwd: REPO });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill(), 60_000);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

function hasCommand(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore', timeout: 30_000 }).status === 0;
}

/**
 * What a shell does with a registration: remove what must be unset (or, where removing is
 * impossible, as with a terminal's environmentVariableCollection, set it empty), then set its
 * variables.
 */
function applyRegistration(base: NodeJS.ProcessEnv, reg: EndpointRegistration, unset: 'delete' | 'empty' = 'delete'): NodeJS.ProcessEnv {
  const env = { ...base };
  if (unset === 'delete') for (const name of reg.unset) delete env[name];
  else for (const name of reg.blank) env[name] = '';
  return { ...env, ...reg.env };
}

/** A long-lived client process driven one line at a time: each input line → one JSON output line. */
class Driven {
  private readonly lines: Interface;
  private readonly pending: Array<(line: string) => void> = [];
  private readonly queued: string[] = [];
  stderr = '';

  constructor(private readonly child: ChildProcessWithoutNullStreams) {
    this.lines = createInterface({ input: child.stdout });
    this.lines.on('line', (l) => {
      const waiter = this.pending.shift();
      if (waiter) waiter(l);
      else this.queued.push(l);
    });
    child.stderr.on('data', (d: Buffer) => (this.stderr += d.toString('utf8')));
  }

  async step(input = 'go'): Promise<Record<string, unknown>> {
    this.child.stdin.write(input + '\n');
    const line =
      this.queued.shift() ??
      (await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`client gave no answer in 40 s; stderr: ${this.stderr.slice(-2000)}`)), 40_000);
        this.pending.push((l) => {
          clearTimeout(timer);
          resolve(l);
        });
      }));
    return JSON.parse(line) as Record<string, unknown>;
  }

  close(): void {
    this.child.stdin.end();
    this.child.kill();
  }
}

/** boto3: one sts.get_caller_identity() per line, with the credentials the client itself holds. */
const BOTO3_CLIENT = `
import sys, json, hashlib, boto3
session = boto3.session.Session()
sts = session.client('sts')  # region and endpoint from the registration's variables
for _ in sys.stdin:
    try:
        r = sts.get_caller_identity()
        key = session.get_credentials().get_frozen_credentials().access_key
        print(json.dumps({'ok': True, 'arn': r['Arn'], 'account': r['Account'], 'key': hashlib.sha256(key.encode()).hexdigest()[:16]}), flush=True)
    except Exception as e:
        print(json.dumps({'ok': False, 'error': type(e).__name__, 'message': str(e)}), flush=True)
`;

/** google-auth-library: Application Default Credentials from the environment, then a Spanner call per line. */
const GOOGLE_CLIENT = `
const { GoogleAuth } = require('google-auth-library');
const { createHash } = require('node:crypto');
const auth = new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/spanner.data'] });
const lines = require('node:readline').createInterface({ input: process.stdin });
lines.on('line', async (url) => {
  try {
    const client = await auth.getClient();
    const project = await auth.getProjectId();
    const { token } = await client.getAccessToken();
    const res = await client.request({ url, method: 'POST', data: {} });
    console.log(JSON.stringify({ ok: true, client: client.constructor.name, project, token: createHash('sha256').update(token).digest('hex').slice(0, 16), status: res.status, session: res.data.name }));
  } catch (e) {
    console.log(JSON.stringify({ ok: false, message: String(e && e.message), status: e && e.response && e.response.status }));
  }
});
`;

/**
 * The Databricks JS SDK (@databricks/sdk-experimental) declares Node >= 22, so it is not a
 * dependency here; point MLSPANNER_DATABRICKS_JS_SDK at a directory where it is installed
 * (`npm install @databricks/sdk-experimental`) to run it against the endpoint.
 */
const DATABRICKS_JS_SDK_DIR = process.env.MLSPANNER_DATABRICKS_JS_SDK;
const DATABRICKS_JS_CLIENT = `
const { WorkspaceClient } = require('@databricks/sdk-experimental');
const w = new WorkspaceClient({});
const lines = require('node:readline').createInterface({ input: process.stdin });
lines.on('line', async () => {
  try {
    let jobs = 0;
    for await (const _ of w.jobs.list({})) jobs++;
    console.log(JSON.stringify({ ok: true, jobs, authType: w.config.authType }));
  } catch (e) {
    console.log(JSON.stringify({ ok: false, message: String(e && e.message) }));
  }
});
`;

describe('local credential endpoints with real clients', function () {
  this.timeout(90_000);
  let alice: SessionManager;
  let gate: AccessGate;
  let grant: Grant;
  let tempRoot: string;
  let home: string;
  const events: AccessEventInput[] = [];
  const servers: CredentialEndpointServer[] = [];
  const children: Driven[] = [];

  before(async () => {
    alice = await signInAs('alice');
    const resolution = resolveEnvironments(sandbox().environments);
    assert.deepEqual(resolution.problems, []);
    gate = new AccessGate({
      identity: alice,
      environments: () => resolution,
      sink: { record: (e) => void events.push(e) },
      http: (service) => createHttpClient({ service, retry: { maxRetries: 1, baseDelayMs: 50 } }),
    });
    const d = gate.request({ environment: 'dev', purpose: 'endpoint' });
    assert.equal(d.kind, 'granted');
    grant = (d as Extract<typeof d, { kind: 'granted' }>).grant;
    tempRoot = mkdtempSync(path.join(os.tmpdir(), 'endpoints-it-'));
    home = path.join(tempRoot, 'home');
    mkdirSync(home);
  });

  afterEach(() => {
    for (const c of children.splice(0)) c.close();
    for (const s of servers.splice(0)) s.dispose();
  });

  after(() => {
    gate?.dispose();
    alice?.dispose();
    if (tempRoot) rmSync(tempRoot, { recursive: true, force: true });
  });

  /** The gate and broker, as the shell wires them; counts what the endpoints asked for. */
  const fromGate: EndpointCredentialSource = async (environment, target) => {
    assert.equal(environment, grant.environment);
    return gate.credential(grant, target);
  };

  /**
   * Credentials that expire a few seconds after they are handed out (minted by real exchanges,
   * renewed only when the last one ran out), to take each client across an expiry.
   */
  function shortLived(seconds: number): { source: EndpointCredentialSource; minted: () => number } {
    const current = new Map<EndpointTarget, Credential>();
    let minted = 0;
    return {
      minted: () => minted,
      source: async (environment, target) => {
        const c = current.get(target);
        if (c && c.expiresAt - Date.now() > 1500) return c;
        const fresh = await gate.credential(grant, target, { forceRefresh: c !== undefined });
        minted++;
        const short = { ...fresh, expiresAt: Math.min(fresh.expiresAt, Date.now() + seconds * 1000) } as Credential;
        current.set(target, short);
        return short;
      },
    };
  }

  function endpointServer(source: EndpointCredentialSource = fromGate): CredentialEndpointServer {
    const server = new CredentialEndpointServer({ credential: source, environment: (n) => gate.environment(n), sink: { record: (e) => void events.push(e) }, tempRoot });
    servers.push(server);
    return server;
  }

  function spawnDriven(cmd: string, args: string[], env: NodeJS.ProcessEnv): Driven {
    const d = new Driven(spawn(cmd, args, { env, cwd: REPO }) as ChildProcessWithoutNullStreams);
    children.push(d);
    return d;
  }

  /** A user's shell: static AWS keys and a profile in the environment, a [default] profile with keys in ~/.aws. */
  function userShell(): NodeJS.ProcessEnv {
    const userHome = path.join(tempRoot, `user-${Math.random().toString(36).slice(2)}`);
    mkdirSync(path.join(userHome, '.aws'), { recursive: true });
    writeFileSync(path.join(userHome, '.aws', 'credentials'), '[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n[static]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n');
    return {
      PATH: process.env.PATH,
      LANG: 'C.UTF-8',
      HOME: userHome,
      AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      AWS_PROFILE: 'static',
      DATABRICKS_TOKEN: 'dapi-not-a-real-token',
      CLOUDSDK_AUTH_ACCESS_TOKEN: 'not-a-real-token',
    };
  }

  describe('AWS', () => {
    const stsUrl = () => sandbox().aws.stsUrl;
    const assumed = /^arn:aws:sts::111122223333:assumed-role\/ml-dev\/alice$/;

    it('the AWS CLI gets the assumed role through the container endpoint, over static keys and a [default] profile; after revoke it fails and says why', async function () {
      if (!hasCommand('aws', ['--version'])) this.skip();
      const server = endpointServer();
      const reg = await server.register({ environment: 'dev', consumer: { kind: 'terminal', name: 'ML Spanner: dev' }, targets: ['aws'] });
      // As a terminal gets it: the static keys and profile are emptied, not removed.
      const env = applyRegistration(userShell(), reg, 'empty');
      assert.equal(env.AWS_ACCESS_KEY_ID, '');
      assert.equal(env.AWS_PROFILE, 'default');
      assert.equal(reg.env.AWS_ENDPOINT_URL_STS, stsUrl(), 'the environment\'s STS endpoint, for the CLI too');
      const callerIdentity = () => run('aws', ['sts', 'get-caller-identity', '--output', 'json'], env);
      const ok = await callerIdentity();
      assert.equal(ok.status, 0, ok.stderr);
      const identity = JSON.parse(ok.stdout) as { Arn: string; Account: string; UserId: string };
      assert.match(identity.Arn, assumed);
      assert.equal(identity.Account, '111122223333');

      await reg.revoke('terminal closed');
      const after = await callerIdentity();
      assert.notEqual(after.status, 0);
      assert.match(after.stderr, /401/);
      assert.match(after.stderr, /revoked \(terminal closed\)/);
      assert.ok(!looksLikeToken(after.stderr), 'no credential in the error');
    });

    it('boto3 keeps working across an expiry (it renews from the endpoint), then fails with the 401 once revoked', async function () {
      if (!hasCommand('python3', ['-c', 'import boto3'])) this.skip();
      const short = shortLived(3);
      const server = endpointServer(short.source);
      const reg = await server.register({ environment: 'dev', consumer: { kind: 'task', name: 'etl.py' }, targets: ['aws'] });
      const client = spawnDriven('python3', ['-c', BOTO3_CLIENT], applyRegistration(userShell(), reg));
      const first = await client.step();
      assert.equal(first.ok, true, String(first.message));
      assert.match(String(first.arn), assumed);
      await sleep(3500); // the first session's Expiration has passed
      const second = await client.step();
      assert.equal(second.ok, true, String(second.message));
      assert.match(String(second.arn), assumed);
      assert.notEqual(second.key, first.key, 'the client renewed its session from the endpoint');
      assert.ok(short.minted() >= 2);

      await reg.revoke('signed out');
      await sleep(3500);
      const third = await client.step();
      assert.equal(third.ok, false);
      assert.match(String(third.message), /Received non 200 response \(?401\)? from container metadata/);
      assert.match(String(third.message), /revoked \(signed out\)/);
    });

    it('with maxTtlSeconds 300 boto3 asks the endpoint on every call, and the broker still exchanges once', async function () {
      if (!hasCommand('python3', ['-c', 'import boto3'])) this.skip();
      // botocore renews 15 min before Expiration: a 5-minute credential is "due" on every call.
      const settings = JSON.parse(JSON.stringify(sandbox().environments)) as Record<string, Record<string, unknown>>;
      settings.dev.maxTtlSeconds = 300;
      const resolution = resolveEnvironments(settings);
      const exchanges: AccessEventInput[] = [];
      const shortGate = new AccessGate({ identity: alice, environments: () => resolution, sink: { record: (e) => void exchanges.push(e) } });
      try {
        const d = shortGate.request({ environment: 'dev', purpose: 'endpoint' });
        assert.equal(d.kind, 'granted');
        const shortGrant = (d as Extract<typeof d, { kind: 'granted' }>).grant;
        let endpointFetches = 0;
        const server = endpointServer(async (_env, target) => {
          endpointFetches++;
          return shortGate.credential(shortGrant, target);
        });
        const reg = await server.register({ environment: 'dev', consumer: { kind: 'debug', name: 'Python: train.py' }, targets: ['aws'] });
        const client = spawnDriven('python3', ['-c', BOTO3_CLIENT], applyRegistration({ PATH: process.env.PATH, HOME: home }, reg));
        const calls = 10;
        const keys = new Set<unknown>();
        for (let i = 0; i < calls; i++) {
          const r = await client.step();
          assert.equal(r.ok, true, String(r.message));
          keys.add(r.key);
        }
        const stsExchanges = exchanges.filter((e) => e.type === 'credentialIssued' || e.type === 'credentialRefreshed').length;
        console.log(`      [measure] boto3 with maxTtlSeconds 300, ${calls} calls: ${endpointFetches} endpoint fetches, ${stsExchanges} STS exchange(s)`);
        assert.ok(endpointFetches >= calls, 'botocore asks on every call (documented)');
        assert.equal(stsExchanges, 1, 'answered from the broker cache: no exchange storm');
        assert.equal(keys.size, 1);
        const fetched = events.filter((e) => e.type === 'credentialFetched' && e.resource === 'debug "Python: train.py"');
        assert.equal(fetched.length, 1, 'one access-log entry for the whole burst');
      } finally {
        shortGate.dispose();
      }
    });
  });

  describe('Google', () => {
    const sessionsUrl = () => `${sandbox().google.spannerUrl}/v1/projects/${SANDBOX_PROJECT}/instances/ml/databases/features/sessions`;

    it('google-auth-library gets the scoped token through the credentials file and calls Spanner; across an expiry; 401 after revoke', async () => {
      const short = shortLived(3);
      const server = endpointServer(short.source);
      const reg = await server.register({ environment: 'dev', consumer: { kind: 'notebook', name: 'churn.ipynb' }, targets: ['google'] });
      const client = spawnDriven(process.execPath, ['-e', GOOGLE_CLIENT], applyRegistration({ PATH: process.env.PATH, HOME: home }, reg));
      const first = await client.step(sessionsUrl());
      assert.equal(first.ok, true, String(first.message));
      assert.equal(first.client, 'ExternalAccountAuthorizedUserClient');
      assert.equal(first.project, SANDBOX_PROJECT);
      assert.equal(first.status, 200);
      assert.match(String(first.session), /^projects\/ml-sandbox\/instances\/ml\/databases\/features\/sessions\//);

      await sleep(3500);
      const second = await client.step(sessionsUrl());
      assert.equal(second.ok, true, String(second.message));
      assert.notEqual(second.token, first.token, 'a new scoped token after the first expired');

      await reg.revoke('stopped using dev');
      await sleep(3500);
      const third = await client.step(sessionsUrl());
      assert.equal(third.ok, false);
      assert.match(String(third.message), /revoked \(stopped using dev\)/);
      assert.ok(!looksLikeToken(String(third.message)));
    });

    it('gcloud prints the scoped token and queries Spanner through the credentials file; after revoke it fails and says why', async function () {
      if (!hasCommand('gcloud', ['--version'])) this.skip();
      this.timeout(180_000);
      const server = endpointServer();
      const reg = await server.register({ environment: 'dev', consumer: { kind: 'terminal', name: 'gcloud' }, targets: ['google'] });
      assert.equal(reg.env.CLOUDSDK_API_ENDPOINT_OVERRIDES_SPANNER, `${sandbox().google.spannerUrl}/`);
      const config = mkdtempSync(path.join(tempRoot, 'gcloud-'));
      const env = applyRegistration({ ...userShell(), CLOUDSDK_CONFIG: config, CLOUDSDK_CORE_DISABLE_PROMPTS: '1' }, reg, 'empty');
      assert.equal(env.CLOUDSDK_AUTH_ACCESS_TOKEN, '', 'emptied, as a terminal does');
      const printed = await run('gcloud', ['auth', 'print-access-token'], env);
      assert.equal(printed.status, 0, printed.stderr);
      const brokered = (await gate.credential(grant, 'google')) as Credential & { accessToken: string };
      assert.equal(sha(printed.stdout.trim()), sha(brokered.accessToken), 'the scoped token of "dev"');
      const sql = await run('gcloud', ['spanner', 'databases', 'execute-sql', 'features', '--instance=ml', '--sql=SELECT 1'], env);
      assert.equal(sql.status, 0, sql.stderr);
      assert.match(sql.stdout, /^\s*1\s*$/m);

      await reg.revoke('terminal closed');
      // A new gcloud process still reaches the endpoint through the file (its secret removed) and reads why.
      const after = await run('gcloud', ['auth', 'print-access-token'], env);
      assert.notEqual(after.status, 0);
      assert.match(after.stderr, /invalid_grant: These ML Spanner credentials were revoked \(terminal closed\)/);
      assert.equal(after.stdout.trim(), '');
    });

    it('behind an HTTPS proxy, NO_PROXY from the registration keeps the endpoint requests (and the secret) on this machine', async () => {
      const server = endpointServer();
      const reg = await server.register({ environment: 'dev', consumer: { kind: 'terminal', name: 'proxied' }, targets: ['google'] });
      // A proxy nobody listens on: a request sent to it fails.
      const proxied = { PATH: process.env.PATH, HOME: home, HTTP_PROXY: 'http://127.0.0.9:9', HTTPS_PROXY: 'http://127.0.0.9:9', http_proxy: 'http://127.0.0.9:9', https_proxy: 'http://127.0.0.9:9' };
      const without = spawnDriven(process.execPath, ['-e', GOOGLE_CLIENT], applyRegistration(proxied, reg));
      assert.equal((await without.step(sessionsUrl())).ok, false, 'the proxy got the request');
      const noProxy = mergeNoProxy(undefined, reg.noProxy);
      const withNoProxy = spawnDriven(process.execPath, ['-e', GOOGLE_CLIENT], applyRegistration({ ...proxied, NO_PROXY: noProxy, no_proxy: noProxy }, reg));
      const r = await withNoProxy.step(sessionsUrl());
      assert.equal(r.ok, true, String(r.message));
    });

    it('the token handed out is the environment\'s scoped Google token, not the identity provider\'s', async () => {
      const server = endpointServer();
      const reg = await server.register({ environment: 'dev', consumer: { kind: 'terminal', name: 'dev' }, targets: ['google'] });
      const client = spawnDriven(process.execPath, ['-e', GOOGLE_CLIENT], applyRegistration({ PATH: process.env.PATH, HOME: home }, reg));
      const r = await client.step(sessionsUrl());
      assert.equal(r.ok, true, String(r.message));
      const session = alice.current()!;
      assert.notEqual(r.token, sha(session.idToken));
      assert.notEqual(r.token, sha(session.accessToken));
      const brokered = (await gate.credential(grant, 'google')) as Credential & { accessToken: string };
      assert.equal(r.token, sha(brokered.accessToken));
    });
  });

  describe('Databricks', () => {
    /**
     * The request databricks-sdk-go makes (config/auth_metadata_service.go): GET with the version
     * and host headers, 404 = "no token", any other non-200 = `token error: <body>`, expires_on a
     * JSON number of epoch seconds (json.Number.Int64; the Python SDK's datetime.fromtimestamp).
     */
    async function sdkToken(url: string, host: string): Promise<{ accessToken: string; tokenType: string; expiry: number } | undefined> {
      const u = new URL(url);
      if (u.hostname !== 'localhost' && u.hostname !== '127.0.0.1') throw new Error(`invalid auth server URL: ${url}`);
      const res = await fetch(url, { headers: { 'X-Databricks-Metadata-Version': '1', 'X-Databricks-Host': host }, signal: AbortSignal.timeout(10_000) });
      if (res.status === 404) return undefined;
      const body = await res.text();
      if (res.status !== 200) throw new Error(`token error: ${body}`);
      const json = JSON.parse(body) as { access_token?: string; token_type?: string; expires_on?: unknown };
      if (!json.access_token) throw new Error('token parse: invalid token');
      if (typeof json.expires_on !== 'number' || !Number.isInteger(json.expires_on)) throw new Error('token expires on: not an integer');
      return { accessToken: json.access_token, tokenType: json.token_type ?? '', expiry: json.expires_on * 1000 };
    }

    /** The SDK's token cache: reuse until 10 s before expiry (oauth2 expiryDelta), then ask again. */
    function sdkClient(reg: EndpointRegistration) {
      let cached: { accessToken: string; tokenType: string; expiry: number } | undefined;
      const host = reg.env.DATABRICKS_HOST;
      return {
        async listJobs(): Promise<{ status: number; token: string }> {
          if (!cached || cached.expiry - 10_000 <= Date.now()) cached = await sdkToken(reg.env.DATABRICKS_METADATA_SERVICE_URL, host);
          if (!cached) throw new Error('no token returned from metadata service');
          const res = await fetch(`${host}/api/2.2/jobs/list`, { headers: { Authorization: `${cached.tokenType} ${cached.accessToken}` } });
          return { status: res.status, token: sha(cached.accessToken) };
        },
      };
    }

    it('the metadata-service request the Databricks SDKs make gets a token the workspace accepts; across an expiry; 401 after revoke', async () => {
      const short = shortLived(3);
      const server = endpointServer(short.source);
      const reg = await server.register({ environment: 'dev', consumer: { kind: 'terminal', name: 'databricks bundle deploy' }, targets: ['databricks'] });
      assert.equal(reg.env.DATABRICKS_AUTH_TYPE, 'metadata-service');
      assert.equal(reg.env.DATABRICKS_HOST, sandbox().databricks.dev);
      const sdk = sdkClient(reg);
      const first = await sdk.listJobs();
      assert.equal(first.status, 200);
      await sleep(3500);
      const second = await sdk.listJobs();
      assert.equal(second.status, 200);
      assert.notEqual(second.token, first.token);

      await reg.revoke('terminal closed');
      await sleep(3500);
      await assert.rejects(sdk.listJobs(), (e: Error) => /^token error: .*"error_code":"REVOKED".*revoked \(terminal closed\)/.test(e.message));
    });

    it('the Databricks JS SDK lists jobs with auth type metadata-service, across an expiry', async function () {
      if (!DATABRICKS_JS_SDK_DIR) this.skip();
      const short = shortLived(3);
      const server = endpointServer(short.source);
      const reg = await server.register({ environment: 'dev', consumer: { kind: 'task', name: 'sdk' }, targets: ['databricks'] });
      const child = new Driven(spawn(process.execPath, ['-e', DATABRICKS_JS_CLIENT], { cwd: DATABRICKS_JS_SDK_DIR, env: applyRegistration(userShell(), reg, 'empty') }) as ChildProcessWithoutNullStreams);
      children.push(child);
      const first = await child.step();
      assert.equal(first.ok, true, String(first.message));
      assert.equal(first.authType, 'metadata-service');
      await sleep(3500);
      const second = await child.step();
      assert.equal(second.ok, true, String(second.message));
      assert.ok(short.minted() >= 2, 'the SDK came back for a new token after the first expired');
    });

    it('refuses a process configured for another workspace (X-Databricks-Host)', async () => {
      const server = endpointServer();
      const reg = await server.register({ environment: 'dev', consumer: { kind: 'terminal', name: 'dev' }, targets: ['databricks'] });
      await assert.rejects(sdkToken(reg.env.DATABRICKS_METADATA_SERVICE_URL, sandbox().databricks.prod), /token error: .*HOST_MISMATCH/);
    });
  });

  // A describe, so it runs after the other groups (mocha runs a suite's own tests first).
  describe('access log', () => {
    it('every client above left first-fetch entries and summaries, with fingerprints and no token', () => {
      const fetched = events.filter((e) => e.type === 'credentialFetched');
      assert.ok(fetched.some((e) => e.outcome === 'success' && typeof e.tokenFingerprint === 'string'));
      assert.ok(fetched.some((e) => e.summary === true && typeof e.fetches === 'number'));
      const text = JSON.stringify(events);
      const at = indexOfToken(text);
      assert.equal(at, -1, `token-shaped text in the events: …${text.slice(Math.max(0, at - 80), at + 12)}…`);
    });
  });
});
