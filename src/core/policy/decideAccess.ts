import { BUILTIN_TARGETS, type TargetRegistry } from '../targets/TargetRegistry';
import { settingPath, type CredentialTarget, type Environment } from './Environment';

export interface TargetDecision {
  target: CredentialTarget;
  granted: boolean;
  /** Why, in words the user can act on. */
  reason: string;
  /** Longest lifetime any credential for this target may have, in seconds. */
  ttlCapSeconds: number;
  /** Whether the environment configures this target at all. */
  configured: boolean;
}

export interface AccessDecision {
  environment: string;
  /** The groups check: true when the user may use the environment at all. */
  granted: boolean;
  reason: string;
  /** Ask (with a reason for the access log) before using this environment. */
  confirm: boolean;
  maxTtlSeconds: number;
  /** One decision per registered target, configured or not. */
  targets: Readonly<Record<CredentialTarget, TargetDecision>>;
}

function list(items: readonly string[]): string {
  return items.length ? items.join(', ') : 'no groups';
}

/**
 * The policy as a pure function: which credentials of an environment a member of `groups` may
 * get. `requiredGroups` is any-of over the IdP groups claim (an empty list admits every
 * signed-in user), a target must be configured, `maxTtlSeconds` caps every credential, and an
 * environment that only a databricks.yml target defines is not usable until the settings give
 * it groups (a bundle may say where a workspace is, never who may reach it).
 *
 * The access gate (src/core/access) is the only caller outside the policy: everything else asks
 * the gate.
 */
export function decideAccess(env: Environment, groups: readonly string[], registry: TargetRegistry = BUILTIN_TARGETS): AccessDecision {
  const have = new Set(groups);
  let member: boolean;
  let reason: string;
  if (env.definedBy === 'bundle') {
    member = false;
    reason = `"${env.name}" is defined only by a databricks.yml target; add ${settingPath(env.name, 'requiredGroups')} to your settings to say who may use it`;
  } else {
    member = env.requiredGroups.length === 0 || env.requiredGroups.some((g) => have.has(g));
    reason = member
      ? env.requiredGroups.length === 0
        ? 'no group is required'
        : `you are in ${env.requiredGroups.filter((g) => have.has(g)).join(', ')}`
      : `requires one of groups ${env.requiredGroups.join(', ')}; you have ${list([...groups].sort())}`;
  }
  const targets: Record<CredentialTarget, TargetDecision> = Object.create(null) as Record<CredentialTarget, TargetDecision>;
  for (const spec of registry.all()) {
    const settings = env.sections[spec.section];
    const configured = settings !== undefined;
    const ttlCapSeconds = configured ? spec.ttlCapSeconds(settings, env) : env.maxTtlSeconds;
    targets[spec.id] = configured
      ? { target: spec.id, granted: member, reason, ttlCapSeconds, configured }
      : {
          target: spec.id,
          granted: false,
          reason: `${spec.service} is not configured for "${env.name}" (set ${settingPath(env.name, spec.section, spec.keyField)})`,
          ttlCapSeconds,
          configured,
        };
  }
  return { environment: env.name, granted: member, reason, confirm: env.confirm, maxTtlSeconds: env.maxTtlSeconds, targets };
}
