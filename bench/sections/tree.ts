/**
 * The Environments view model (src/core/access/environmentView.ts) for n environments × 3
 * credentials (Databricks, Google, AWS), every credential issued and counting down, as the tree
 * builds it on each change and on each 5 s tick; and the per-tick comparison that decides which
 * rows VS Code re-renders (changedRoots). Baseline: the same build for a tenth of the
 * environments, ×10 — a build that grows faster than the number of rows shows above 1×.
 */
import { AccessGate } from '../../src/core/access/AccessGate';
import { changedRoots, environmentView } from '../../src/core/access/environmentView';
import type { CredentialInfo } from '../../src/core/credentials/CredentialBroker';
import { resolveEnvironments } from '../../src/core/policy/resolveEnvironments';
import { benchSession } from '../lib/exchangeServers';
import { median, ms, ratio, type Row } from '../lib/table';

const TARGETS = ['databricks', 'google', 'aws'] as const;

function world(n: number) {
  const now = Date.now();
  const session = benchSession({ issuer: 'https://idp.example.com', subjectToken: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2lnbmF0dXJlLWJlbmNo' });
  const settings: Record<string, unknown> = {};
  for (let i = 0; i < n; i++)
    settings[`env${i}`] = {
      requiredGroups: ['ml-dev'],
      databricks: { host: `https://dbc-${i}.cloud.databricks.com` },
      spanner: { project: 'bench', instance: 'ml', database: 'features', workloadIdentityAudience: `//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p${i}/providers/idp` },
      aws: { roleArn: `arn:aws:iam::123456789012:role/bench${i}`, region: 'us-east-1' },
    };
  const resolution = resolveEnvironments(settings);
  const gate = new AccessGate({ identity: { current: () => session, fresh: async () => session }, environments: () => resolution, sink: { record: () => undefined } });
  const infos: CredentialInfo[] = Object.keys(resolution.environments).flatMap((environment, i) =>
    TARGETS.map((target, t) => ({
      environment,
      target,
      principal: `principal-${i}-${t}`,
      state: 'valid' as const,
      source: 'bench',
      scopes: [],
      issuedAt: now,
      expiresAt: now + 3_000_000 + i * 1000 + t,
      fingerprint: `sha256:${(i * 3 + t).toString(16).padStart(12, '0')}`,
      refreshing: false,
    })),
  );
  const view = { evaluate: gate.evaluate.bind(gate), targets: gate.targets, credentials: { peek: () => infos } } as unknown as Pick<AccessGate, 'evaluate' | 'targets' | 'credentials'>;
  return { build: (at: number) => environmentView(view, () => resolution, session, at, undefined, undefined), dispose: () => gate.dispose(), now };
}

function timeBuilds(n: number, runs: number): { buildMs: number; diffMs: number; rows: number; roots: number; changed: number } {
  const w = world(n);
  try {
    for (let i = 0; i < 20; i++) w.build(w.now); // JIT
    const builds: number[] = [];
    const diffs: number[] = [];
    let rows = 0;
    let roots = 0;
    let changed = 0;
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      const before = w.build(w.now + r * 5000);
      const t1 = performance.now();
      const after = w.build(w.now + (r + 1) * 5000); // the next 5 s tick
      const t2 = performance.now();
      const c = changedRoots(before, after);
      const t3 = performance.now();
      builds.push(t1 - t0, t2 - t1);
      diffs.push(t3 - t2);
      rows = before.reduce((k, node) => k + 1 + (node.children?.length ?? 0), 0);
      roots = before.length;
      changed = c === 'all' ? before.length : c.length;
    }
    return { buildMs: median(builds), diffMs: median(diffs), rows, roots, changed };
  } finally {
    w.dispose();
  }
}

export function treeRows(runs = 40): Row[] {
  const big = timeBuilds(100, runs);
  const small = timeBuilds(10, runs);
  const huge = timeBuilds(1000, Math.max(5, runs / 4));
  return [
    { area: 'tree', measure: `Environments view model, 100 environments × 3 issued credentials (${big.rows} rows), full build, median of ${runs * 2}`, value: ms(big.buildMs, 2), baseline: ms(small.buildMs * 10, 2), baselineIs: '10 environments, ×10', ratio: ratio(big.buildMs, small.buildMs * 10) },
    { area: 'tree', measure: `  1,000 environments (O(n): ≈ 10× the 100)`, value: ms(huge.buildMs, 2), baseline: ms(big.buildMs * 10, 2), baselineIs: '100 environments, ×10', ratio: ratio(huge.buildMs, big.buildMs * 10) },
    { area: 'tree', measure: `  a 5 s tick: which top-level rows changed (changedRoots), 100 environments; rows re-rendered`, value: `${ms(big.diffMs, 2)}; ${big.changed} of ${big.roots}`, baseline: ms(big.buildMs, 2), baselineIs: 'the build', ratio: ratio(big.diffMs, big.buildMs) },
  ];
}
