import { CREDENTIAL_TARGETS, settingPath, type CredentialTarget, type Environment } from './Environment';

export interface TargetDecision {
  target: CredentialTarget;
  granted: boolean;
  /** Why, in words the user can act on. */
  reason: string;
  /** Longest lifetime any credential for this target may have, in seconds. */
  ttlCapSeconds: number;
}

export interface AccessDecision {
  environment: string;
  /** The groups check: true when the user may use the environment at all. */
  granted: boolean;
  reason: string;
  /** Ask (with a reason for the access log) before using this environment. */
  confirm: boolean;
  maxTtlSeconds: number;
  targets: Record<CredentialTarget, TargetDecision>;
}

const TARGET_SETTING: Record<CredentialTarget, { section: 'databricks' | 'spanner' | 'aws'; key: string; label: string }> = {
  databricks: { section: 'databricks', key: 'host', label: 'Databricks' },
  google: { section: 'spanner', key: 'workloadIdentityAudience', label: 'Google (ML Spanner)' },
  aws: { section: 'aws', key: 'roleArn', label: 'AWS' },
};

function list(items: readonly string[]): string {
  return items.length ? items.join(', ') : 'no groups';
}

/**
 * Which credentials of an environment the signed-in user may get: `requiredGroups` is any-of
 * over the IdP groups claim (an empty list admits every signed-in user), a target must be
 * configured, and `maxTtlSeconds` caps every credential.
 */
export function decideAccess(env: Environment, groups: readonly string[]): AccessDecision {
  const have = new Set(groups);
  const member = env.requiredGroups.length === 0 || env.requiredGroups.some((g) => have.has(g));
  const reason = member
    ? env.requiredGroups.length === 0
      ? 'no group is required'
      : `you are in ${env.requiredGroups.filter((g) => have.has(g)).join(', ')}`
    : `requires one of groups ${env.requiredGroups.join(', ')}; you have ${list([...groups].sort())}`;
  const targets = {} as Record<CredentialTarget, TargetDecision>;
  for (const target of CREDENTIAL_TARGETS) {
    const s = TARGET_SETTING[target];
    const configured = env[s.section] !== undefined;
    const ttlCapSeconds = target === 'aws' && env.aws?.sessionDurationSeconds ? Math.min(env.maxTtlSeconds, env.aws.sessionDurationSeconds) : env.maxTtlSeconds;
    targets[target] = !configured
      ? {
          target,
          granted: false,
          reason: `${s.label} is not configured for "${env.name}" (set ${settingPath(env.name, s.section, s.key)})`,
          ttlCapSeconds,
        }
      : { target, granted: member, reason, ttlCapSeconds };
  }
  return { environment: env.name, granted: member, reason, confirm: env.confirm, maxTtlSeconds: env.maxTtlSeconds, targets };
}
