/**
 * What the access gate and the broker add to each issued credential, without the network: a
 * target whose exchange answers at once (fresh AWS-shaped keys each time, so each renewal
 * registers and forgets its values for redaction) is renewed through AccessGate.credential()
 * → CredentialBroker in a loop. The sink redacts each entry as the access log does (redactDeep). Baseline:
 * the same exchange called alone.
 */
import { AccessGate } from '../../src/core/access/AccessGate';
import { resolveEnvironments } from '../../src/core/policy/resolveEnvironments';
import { redactDeep } from '../../src/core/redact';
import type { CredentialTargetSpec } from '../../src/core/targets/CredentialTargetSpec';
import { BUILTIN_TARGETS } from '../../src/core/targets/TargetRegistry';
import { benchSession } from '../lib/exchangeServers';
import { median, ratio, type Row } from '../lib/table';

interface InstantSettings {
  account: string;
}

let serial = 0;
const instantExchange = async (now: number) => {
  const n = (serial++).toString(36).padStart(8, '0');
  return {
    kind: 'aws' as const,
    accessKeyId: `ASIABENCH${n.toUpperCase()}`.slice(0, 20),
    secretAccessKey: `bench/secret+${n}${'x'.repeat(24)}`,
    sessionToken: `FwoGZXIvYXdzE${n}${'y'.repeat(200)}`,
    assumedRoleArn: 'arn:aws:sts::123456789012:assumed-role/bench/ada',
    serviceExpiresAt: now + 3_600_000,
    source: 'instant',
    principal: 'arn:aws:iam::123456789012:role/bench',
  };
};

const instant: CredentialTargetSpec<InstantSettings> = {
  id: 'instant',
  section: 'instant',
  label: 'Instant credential',
  service: 'Instant',
  fields: { account: { kind: 'string', hint: 'any' } },
  required: ['account'],
  keyField: 'account',
  sourceLabels: { instant: 'instant' },
  defaults: () => ({}),
  subjectToken: () => 'idToken',
  identity: (s) => ({ principal: s.account, parts: [s.account] }),
  ttlCapSeconds: (_s, env) => env.maxTtlSeconds,
  exchange: (ctx) => instantExchange(ctx.now),
  processEnv: () => ({}),
  explain: () => [],
  endpoints: () => [],
};

export async function gateOverheadRows(renewals = 20_000, rounds = 5): Promise<Row[]> {
  const registry = BUILTIN_TARGETS.with(instant);
  const session = benchSession({ issuer: 'https://idp.example.com', subjectToken: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2lnbmF0dXJlLWJlbmNo' });
  const resolution = resolveEnvironments({ bench: { requiredGroups: ['ml-dev'], instant: { account: 'bench' } } }, undefined, registry);
  const gate = new AccessGate({ identity: { current: () => session, fresh: async () => session }, environments: () => resolution, registry, sink: { record: (e) => void redactDeep(e) } });
  try {
    const d = gate.request({ environment: 'bench', purpose: 'job', targets: ['instant'] });
    if (d.kind !== 'granted') throw new Error(`the gate did not grant the bench environment: ${d.kind}`);
    const renew = () => gate.credential(d.grant, 'instant', { forceRefresh: true });
    const alone = () => instantExchange(Date.now());
    const cpuPer = async (op: () => Promise<unknown>) => {
      const c0 = process.cpuUsage();
      for (let i = 0; i < renewals; i++) await op();
      const c = process.cpuUsage(c0);
      return (c.user + c.system) / renewals; // µs
    };
    await cpuPer(renew);
    await cpuPer(alone);
    const g: number[] = [];
    const a: number[] = [];
    for (let r = 0; r < rounds; r++) {
      g.push(await cpuPer(renew));
      a.push(await cpuPer(alone));
    }
    const mg = median(g);
    const ma = median(a);
    return [
      {
        area: 'credentials',
        measure: `gate + broker per renewal, no network (AccessGate.credential(), forced; median of ${rounds} × ${renewals.toLocaleString('en-US')})`,
        value: `${mg.toFixed(1)} µs`,
        baseline: `${ma.toFixed(1)} µs`,
        baselineIs: 'the instant exchange alone',
        ratio: ratio(mg, ma, 0),
      },
    ];
  } finally {
    gate.dispose();
  }
}
