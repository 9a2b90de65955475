/**
 * Token exchange overhead per target: the extension's exchange (Databricks RFC 8693 federation,
 * Google STS, AWS AssumeRoleWithWebIdentity) against the sandbox emulators, each interleaved with
 * a bare round trip (node:http GET, same loopback server, same keep-alive default). The servers
 * run in their own process (bench/lib/exchangeServers.ts), so client CPU time is the client's:
 * building the request, axios, parsing and checking the answer.
 */
import { spawn } from 'node:child_process';
import * as http from 'node:http';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { assumeAwsRole } from '../../src/core/credentials/assumeAwsRole';
import type { HttpFactory } from '../../src/core/credentials/Credential';
import { DatabricksDiscovery, exchangeDatabricksToken } from '../../src/core/credentials/exchangeDatabricksToken';
import { exchangeGoogleToken } from '../../src/core/credentials/exchangeGoogleToken';
import { createHttpClient } from '../../src/core/http/HttpClient';
import { redactDeep } from '../../src/core/redact';
import { AccessGate } from '../../src/core/access/AccessGate';
import type { CredentialTarget } from '../../src/core/policy/Environment';
import { resolveEnvironments } from '../../src/core/policy/resolveEnvironments';
import { BENCH_ROLE_ARN, BENCH_WORKLOAD_AUDIENCE, benchSession, type ExchangeServers } from '../lib/exchangeServers';
import { median, ms, ratio, type Row } from '../lib/table';

const root = path.resolve(__dirname, '..', '..');

export interface RunningServers extends ExchangeServers {
  stop(): Promise<void>;
}

/** Starts the emulators in a child process and resolves with their addresses. */
export async function startExchangeServers(): Promise<RunningServers> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, '..', 'lib', 'exchangeServers.ts')], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout });
    rl.once('line', (l) => (rl.close(), resolve(l)));
    child.once('exit', (code) => reject(new Error(`the emulators exited (${code}) before they started`)));
    setTimeout(() => reject(new Error('the emulators did not start within 30 s')), 30_000).unref();
  });
  const servers = JSON.parse(line) as ExchangeServers;
  return {
    ...servers,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.stdin.end();
        setTimeout(() => child.kill(), 5000).unref();
      }),
  };
}

function bareGet(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        res.resume();
        res.on('end', resolve);
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

interface Block {
  wallMs: number;
  cpuMs: number;
}

async function timeBlock(op: () => Promise<unknown>, n: number): Promise<Block> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await op();
  const wallMs = (performance.now() - t0) / n;
  const cpu = process.cpuUsage(cpu0);
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000 / n };
}

/**
 * An access gate over one environment with all three targets on the emulators, for a signed-in
 * user; `issue(target)` is a renewal through AccessGate.credential() → CredentialBroker (the
 * decision, the session's fresh token, the exchange, the fingerprint, the access-log entry).
 */
export function gateOnEmulators(servers: ExchangeServers): { issue: (target: CredentialTarget) => Promise<unknown>; dispose: () => void } {
  const session = benchSession(servers);
  const resolution = resolveEnvironments({
    bench: {
      requiredGroups: ['ml-dev'],
      databricks: { host: servers.databricks },
      spanner: { project: 'bench', instance: 'ml', database: 'features', workloadIdentityAudience: BENCH_WORKLOAD_AUDIENCE, stsEndpoint: servers.googleSts, iamCredentialsEndpoint: servers.googleIam },
      aws: { roleArn: BENCH_ROLE_ARN, region: 'us-east-1', stsEndpoint: servers.aws },
    },
  });
  if (!resolution.environments.bench) throw new Error(`the bench environment did not resolve: ${JSON.stringify(resolution.problems)}`);
  // The sink redacts each entry as the access log does (redactDeep, not the file write): a renewal's new
  // values are in the registered-secrets pattern from then on.
  const gate = new AccessGate({ identity: { current: () => session, fresh: async () => session }, environments: () => resolution, sink: { record: (e) => void redactDeep(e) } });
  const decision = gate.request({ environment: 'bench', purpose: 'job' });
  if (decision.kind !== 'granted') throw new Error(`the gate did not grant the bench environment: ${decision.kind}`);
  return { issue: (target) => gate.credential(decision.grant, target, { forceRefresh: true }), dispose: () => gate.dispose() };
}

export async function exchangeRows(servers: ExchangeServers, rounds = 40, perBlock = 5): Promise<Row[]> {
  const clients = new Map<string, ReturnType<HttpFactory>>();
  const httpFactory: HttpFactory = (service) => {
    let c = clients.get(service);
    if (!c) clients.set(service, (c = createHttpClient({ service })));
    return c;
  };
  const discovery = new DatabricksDiscovery(httpFactory);
  const subjectToken = servers.subjectToken;
  const gate = gateOnEmulators(servers);
  const targets: { name: string; id: CredentialTarget; exchange: () => Promise<unknown>; bare: string }[] = [
    {
      name: 'Databricks (token federation)',
      id: 'databricks',
      exchange: () => exchangeDatabricksToken(httpFactory, discovery, { environment: 'bench', host: servers.databricks, scopes: ['all-apis'], subjectToken, now: Date.now() }),
      bare: `${servers.databricks}/oidc/.well-known/oauth-authorization-server`,
    },
    {
      name: 'Google (STS exchange)',
      id: 'google',
      exchange: () =>
        exchangeGoogleToken(httpFactory, {
          environment: 'bench',
          audience: BENCH_WORKLOAD_AUDIENCE,
          subjectToken,
          subjectTokenKind: 'idToken',
          stsEndpoint: servers.googleSts,
          iamCredentialsEndpoint: servers.googleIam,
          maxTtlSeconds: 3600,
          now: Date.now(),
        }),
      bare: `${servers.googleSts}/`,
    },
    {
      name: 'AWS (AssumeRoleWithWebIdentity)',
      id: 'aws',
      exchange: () =>
        assumeAwsRole(httpFactory, { environment: 'bench', stsEndpoint: servers.aws, roleArn: BENCH_ROLE_ARN, roleSessionName: 'ada', webIdentityToken: subjectToken, durationSeconds: 900, now: Date.now() }),
      bare: `${servers.aws}/`,
    },
  ];
  const rows: Row[] = [];
  for (const t of targets) {
    // Warm up: discovery (cached by the extension too), JWKS fetch by the service, JIT.
    const viaGate = () => gate.issue(t.id);
    for (let i = 0; i < 10; i++) {
      await t.exchange();
      await viaGate();
      await bareGet(t.bare);
    }
    const ex: Block[] = [];
    const gated: Block[] = [];
    const bare: Block[] = [];
    for (let r = 0; r < rounds; r++) {
      ex.push(await timeBlock(t.exchange, perBlock));
      gated.push(await timeBlock(viaGate, perBlock));
      bare.push(await timeBlock(() => bareGet(t.bare), perBlock));
    }
    const w = median(ex.map((b) => b.wallMs));
    const wg = median(gated.map((b) => b.wallMs));
    const wb = median(bare.map((b) => b.wallMs));
    const c = median(ex.map((b) => b.cpuMs));
    const cg = median(gated.map((b) => b.cpuMs));
    const cb = median(bare.map((b) => b.cpuMs));
    const n = rounds * perBlock;
    rows.push({ area: 'token exchange', measure: `${t.name}: wall per exchange, median of ${rounds} blocks of ${perBlock} (${n} exchanges)`, value: ms(w, 2), baseline: ms(wb, 2), baselineIs: 'bare round trip, same server', ratio: ratio(w, wb, 1) });
    rows.push({ area: 'token exchange', measure: `${t.name}: client CPU per exchange (overhead ${ms(c - cb, 2)})`, value: ms(c, 2), baseline: ms(cb, 2), baselineIs: 'bare round trip, client CPU', ratio: ratio(c, cb, 1) });
    rows.push({ area: 'token exchange', measure: `${t.name}: wall per renewal through AccessGate.credential() → broker`, value: ms(wg, 2), baseline: ms(w, 2), baselineIs: 'the exchange alone', ratio: ratio(wg, w, 2) });
    rows.push({ area: 'token exchange', measure: `${t.name}: client CPU per renewal through the gate (gate + broker ${ms(cg - c, 2)})`, value: ms(cg, 2), baseline: ms(c, 2), baselineIs: 'the exchange alone, client CPU', ratio: ratio(cg, c, 2) });
  }
  gate.dispose();
  return rows;
}
