/**
 * Cached credential lookups the way every Databricks call, query and terminal gets its token:
 * AccessGate.credential() (the access decision) → CredentialBroker.get() (the cache). One
 * credential is issued against the Databricks emulator, then looked up in a loop. The decision
 * alone (AccessGate.evaluate()) is measured too, so the broker's share shows. Baseline: the
 * smallest async cache, an awaited Map lookup.
 */
import { AccessGate } from '../../src/core/access/AccessGate';
import { resolveEnvironments } from '../../src/core/policy/resolveEnvironments';
import { benchSession, type ExchangeServers } from '../lib/exchangeServers';
import { median, perSecond, ratio, type Row } from '../lib/table';

export async function brokerRows(servers: ExchangeServers, lookups = 100_000, rounds = 5): Promise<Row[]> {
  const session = benchSession(servers);
  const resolution = resolveEnvironments({ bench: { databricks: { host: servers.databricks } } });
  const env = resolution.environments.bench;
  if (!env) throw new Error(`the bench environment did not resolve: ${JSON.stringify(resolution.problems)}`);
  const gate = new AccessGate({
    identity: { current: () => session, fresh: async () => session },
    environments: () => resolution,
    sink: { record: () => undefined },
  });
  try {
    const request = { environment: 'bench', purpose: 'job', targets: ['databricks'] } as const;
    const decision = gate.request(request);
    if (decision.kind !== 'granted') throw new Error(`the gate did not grant the bench environment: ${decision.kind}`);
    const first = await gate.credential(decision.grant, 'databricks');
    const cache = new Map([['bench|databricks', first]]);
    const mapLookup = async () => cache.get('bench|databricks');
    const brokerLookup = () => gate.credential(decision.grant, 'databricks');
    const decide = async () => gate.evaluate(request);
    const rate = async (op: () => Promise<unknown>) => {
      const t0 = performance.now();
      for (let i = 0; i < lookups; i++) await op();
      return (lookups / (performance.now() - t0)) * 1000;
    };
    await rate(brokerLookup);
    await rate(mapLookup);
    await rate(decide);
    const b: number[] = [];
    const m: number[] = [];
    const d: number[] = [];
    for (let r = 0; r < rounds; r++) {
      b.push(await rate(brokerLookup));
      m.push(await rate(mapLookup));
      d.push(await rate(decide));
    }
    const rb = median(b);
    const rm = median(m);
    const rd = median(d);
    const us = (rate: number) => `${((1 / rate) * 1e6).toFixed(2)} µs`;
    return [
      {
        area: 'credentials',
        measure: `cached lookups, AccessGate.credential() → CredentialBroker.get(), median of ${rounds} × ${lookups.toLocaleString('en-US')}`,
        value: perSecond(rb),
        baseline: perSecond(rm),
        baselineIs: 'awaited Map lookup',
        ratio: ratio(rb, rm, 3),
      },
      { area: 'credentials', measure: '  time per cached lookup', value: us(rb), baseline: us(rm), baselineIs: 'awaited Map lookup', ratio: ratio(rm, rb, 1) },
      { area: 'credentials', measure: '  of which the access decision (AccessGate.evaluate())', value: us(rd), baseline: us(rb), baselineIs: 'the whole lookup', ratio: ratio(rb, rd, 2) },
    ];
  } finally {
    gate.dispose();
  }
}
