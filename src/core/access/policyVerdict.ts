import { decideAccess, type AccessDecision } from '../policy/decideAccess';
import type { CredentialTarget, Environment } from '../policy/Environment';
import type { TargetRegistry } from '../targets/TargetRegistry';

export type PolicyVerdict = 'granted' | 'confirm' | 'denied';

/**
 * The access gate's rule for a member of `groups`, without a session or a log: the gate's
 * evaluate() and the access matrix (what would a member of these groups get?) both use it, so
 * a review can never disagree with what the extension does.
 */
export function policyDecision(env: Environment, groups: readonly string[], registry?: TargetRegistry): AccessDecision {
  return decideAccess(env, groups, registry);
}

export function verdictOf(decision: AccessDecision, target: CredentialTarget): PolicyVerdict {
  const t = decision.targets[target];
  if (!t?.granted) return 'denied';
  return decision.confirm ? 'confirm' : 'granted';
}
