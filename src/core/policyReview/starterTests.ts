import type { EnvironmentResolution } from '../policy/Environment';
import { BUILTIN_TARGETS, type TargetRegistry } from '../targets/TargetRegistry';
import { policySubjects, reaches, subjectCells } from './accessMatrix';
import { isProdEnvironment } from './accessTestFile';

function yamlString(v: string): string {
  return /^[A-Za-z0-9][A-Za-z0-9 _.+-]*$/.test(v) && !/^(true|false|null|yes|no|on|off|~)$/i.test(v) && !/^[\d.+-]/.test(v) ? v : JSON.stringify(v);
}

function flow(items: readonly string[]): string {
  return `[${items.map(yamlString).join(', ')}]`;
}

/**
 * A first .mlspanner/access-tests.yaml that pins the policy as it is now: one case per group
 * (and no group) with its decision per environment, and the invariants the policy keeps today.
 * Edit it down to what must hold; a later change that breaks it then fails in the editor and CI.
 */
export function starterAccessTests(resolution: EnvironmentResolution, registry: TargetRegistry = BUILTIN_TARGETS, schemaUrl?: string): string {
  const out: string[] = [];
  if (schemaUrl) out.push(`# yaml-language-server: $schema=${schemaUrl}`);
  out.push('# Access policy tests: what each group must (and must not) get. Generated from the current', '# policy; keep what must hold. Run: ML Spanner: Test Access Policy, or in CI', '#   node dist/mlspanner-policy.js test --settings .vscode/settings.json --tests .mlspanner/access-tests.yaml', 'version: 1', '');
  const envs = Object.keys(resolution.environments);
  const subjects = policySubjects(resolution);
  const rows = subjects.map((s) => ({ s, cells: subjectCells(resolution, s.groups, registry) }));

  const inv: string[] = [];
  const prod = envs.filter((e) => isProdEnvironment(e, { prodEnvironments: [] }));
  if (prod.length && rows.every((r) => !r.cells.some((c) => prod.includes(c.environment) && c.verdict === 'granted'))) inv.push('  prodRequiresConfirm: true');
  const caps = rows.flatMap((r) => r.cells.filter((c) => reaches(c.verdict)).map((c) => c.ttlCapSeconds));
  if (caps.length) inv.push(`  maxTtlSeconds: ${Math.max(...caps)}`);
  const only = prod.map((env) => ({ env, groups: rows.filter((r) => r.cells.some((c) => c.environment === env && reaches(c.verdict))).map((r) => r.s) })).filter((o) => o.groups.every((g) => g.groups.length));
  if (only.length) {
    inv.push('  onlyGroupsReach:');
    for (const o of only) inv.push(`    ${o.env}: ${flow(o.groups.flatMap((g) => g.groups))}`);
  }
  if (!resolution.problems.length) inv.push('  noPolicyProblems: true');
  if (inv.length) out.push('invariants:', ...inv, '');

  if (!rows.some((r) => r.cells.some((c) => c.configured))) {
    out.push('# No environment configures a credential yet: add cases once one does.', 'cases: []');
    return out.join('\n') + '\n';
  }
  out.push('cases:');
  for (const { s, cells } of rows) {
    out.push(`  - name: ${yamlString(`${s.groups.length ? s.label : 'a user in no group'}: access as of today`)}`, `    groups: ${flow(s.groups)}`, '    expect:');
    for (const env of envs) {
      const configured = cells.filter((c) => c.environment === env && c.configured);
      if (!configured.length) continue;
      const verdicts = new Set(configured.map((c) => c.verdict));
      const caps = new Set(configured.filter((c) => reaches(c.verdict)).map((c) => c.ttlCapSeconds));
      if (verdicts.size === 1 && caps.size <= 1) {
        const v = configured[0].verdict;
        out.push(`      ${env}: ${caps.size ? `{ decision: ${v}, maxTtl: ${[...caps][0]} }` : v}`);
      } else {
        out.push(`      ${env}:`);
        for (const c of configured) out.push(`        ${c.target}: ${reaches(c.verdict) ? `{ decision: ${c.verdict}, maxTtl: ${c.ttlCapSeconds} }` : c.verdict}`);
      }
    }
  }
  return out.join('\n') + '\n';
}
