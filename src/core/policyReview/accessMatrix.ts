import type { AccessDecision } from '../policy/decideAccess';
import { policyDecision, verdictOf as gateVerdictOf } from '../access/policyVerdict';
import type { CredentialTarget, Environment, EnvironmentProblem, EnvironmentResolution } from '../policy/Environment';
import type { AnyTargetSpec } from '../targets/CredentialTargetSpec';
import { BUILTIN_TARGETS, type TargetRegistry } from '../targets/TargetRegistry';

/** What a user gets for one credential: the access gate's three answers for a use that issues. */
export type Verdict = 'granted' | 'denied' | 'confirm';

export const VERDICTS: readonly Verdict[] = ['granted', 'confirm', 'denied'];

/** A set of groups the matrix asks about: one group, several ("ml-dev + ml-staging") or none. */
export interface Subject {
  /** Sorted, without duplicates; empty = a signed-in user in none of the policy's groups. */
  groups: readonly string[];
  /** "ml-dev", "ml-dev + ml-staging", "any signed-in user". */
  label: string;
}

/** One setting an identity mapping rests on, e.g. `aws.roleArn`. */
export interface IdentityField {
  key: string;
  value: string;
}

/** Who a credential acts as and the settings that decide it. */
export interface IdentityMapping {
  /** The target spec's principal: workspace host, service account or audience, role ARN. */
  principal: string;
  fields: readonly IdentityField[];
  /** Hosts the IdP token or the credential is sent to (the spec's endpoints). */
  endpoints: readonly string[];
}

export interface MatrixCell {
  environment: string;
  target: CredentialTarget;
  verdict: Verdict;
  /** The policy's reason, in the words decideAccess uses. */
  reason: string;
  /** The longest lifetime a credential may have, in seconds (meaningful when configured). */
  ttlCapSeconds: number;
  configured: boolean;
  /** For configured targets: what a grant rests on. */
  identity?: IdentityMapping;
}

export interface MatrixRow {
  subject: Subject;
  cells: MatrixCell[];
}

export interface AccessMatrix {
  environments: string[];
  targets: { id: CredentialTarget; label: string; service: string }[];
  rows: MatrixRow[];
  /** Problems in the settings or bundle: environments they disable are missing from the matrix. */
  problems: EnvironmentProblem[];
}

/** The label of the subject with no groups. */
export const ANY_USER = 'any signed-in user';

/**
 * The settings of each built-in section that say who a credential acts as (beyond the spec's
 * principal). A target registered later shows its principal and its key field.
 */
const IDENTITY_KEYS: Readonly<Record<string, readonly string[]>> = {
  databricks: ['host', 'clientId', 'scopes'],
  spanner: ['workloadIdentityAudience', 'serviceAccount', 'project', 'instance', 'database'],
  aws: ['roleArn', 'region'],
};

/**
 * The verdict the access gate gives for a use that issues a credential (AccessGate.evaluate):
 * not granted by the policy → denied; granted in an environment that asks → confirm.
 */
/** The gate's own rule (src/core/access/policyVerdict.ts). */
export function verdictOf(decision: AccessDecision, target: CredentialTarget): Verdict {
  return gateVerdictOf(decision, target);
}

export function reaches(verdict: Verdict): boolean {
  return verdict !== 'denied';
}

export function subjectOf(groups: readonly string[]): Subject {
  const sorted = [...new Set(groups.map((g) => g.trim()).filter(Boolean))].sort();
  return { groups: sorted, label: sorted.length ? sorted.join(' + ') : ANY_USER };
}

/** Every group named in `requiredGroups` of any environment, sorted. */
export function policyGroups(...resolutions: EnvironmentResolution[]): string[] {
  const out = new Set<string>();
  for (const r of resolutions) for (const env of Object.values(r.environments)) for (const g of env.requiredGroups) out.add(g);
  return [...out].sort();
}

/**
 * The subjects that describe a policy completely: each group alone, and no group. Membership is
 * any-of, so a set of groups reaches exactly what its members reach one by one, and a group the
 * policy never names is no different from none.
 */
export function policySubjects(...resolutions: EnvironmentResolution[]): Subject[] {
  return [subjectOf([]), ...policyGroups(...resolutions).map((g) => subjectOf([g]))];
}

function text(v: unknown): string {
  return Array.isArray(v) ? v.map(String).join(' ') : String(v);
}

export function identityOf(spec: AnyTargetSpec, env: Environment): IdentityMapping | undefined {
  const settings = env.sections[spec.section];
  if (!settings) return undefined;
  const keys = IDENTITY_KEYS[spec.section] ?? [spec.keyField];
  const fields: IdentityField[] = [];
  for (const key of keys) {
    const v = settings[key];
    if (v !== undefined && v !== null) fields.push({ key: `${spec.section}.${key}`, value: text(v) });
  }
  return { principal: spec.identity(settings, env).principal, fields, endpoints: spec.endpoints(settings) };
}

/** One subject's cells, environment by environment, target by target, from decideAccess. */
export function subjectCells(resolution: EnvironmentResolution, groups: readonly string[], registry: TargetRegistry = BUILTIN_TARGETS): MatrixCell[] {
  const cells: MatrixCell[] = [];
  for (const env of Object.values(resolution.environments)) {
    const decision = policyDecision(env, groups, registry);
    for (const spec of registry.all()) {
      const t = decision.targets[spec.id];
      cells.push({
        environment: env.name,
        target: spec.id,
        verdict: verdictOf(decision, spec.id),
        reason: t.reason,
        ttlCapSeconds: t.ttlCapSeconds,
        configured: t.configured,
        identity: t.configured ? identityOf(spec, env) : undefined,
      });
    }
  }
  return cells;
}

/**
 * Every subject × environment × credential target: granted, denied or confirm, the TTL cap and
 * the identity mapping each grant rests on. `groupsList` names the subjects (each entry a set of
 * groups a user holds); by default every group the policy names, alone, and no group.
 */
export function accessMatrix(resolution: EnvironmentResolution, groupsList?: readonly (readonly string[])[], registry: TargetRegistry = BUILTIN_TARGETS): AccessMatrix {
  const subjects = groupsList ? dedupe(groupsList.map(subjectOf)) : policySubjects(resolution);
  return {
    environments: Object.keys(resolution.environments),
    targets: registry.all().map((s) => ({ id: s.id, label: s.label, service: s.service })),
    rows: subjects.map((subject) => ({ subject, cells: subjectCells(resolution, subject.groups, registry) })),
    problems: resolution.problems,
  };
}

function dedupe(subjects: Subject[]): Subject[] {
  const seen = new Set<string>();
  return subjects.filter((s) => {
    const k = s.groups.join('\u0000');
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * "ml-dev, ml-staging" or "ml-dev + ml-staging" → ["ml-dev", "ml-staging"]. Group names may hold
 * inner spaces ("ML Engineers"), so only commas, line breaks and a spaced "+" separate.
 */
export function parseGroupList(input: string): string[] {
  return [...new Set(input.split(/\s*(?:,|\n|\s\+\s)\s*/).map((g) => g.trim()).filter(Boolean))];
}
