import { ENVIRONMENTS_SETTING, type EnvironmentResolution } from '../policy/Environment';
import { parseBundleTargets } from '../policy/parseBundleTargets';
import { resolveEnvironments } from '../policy/resolveEnvironments';
import { BUILTIN_TARGETS, type TargetRegistry } from '../targets/TargetRegistry';
import { parseJsonc } from './parseJsonc';

/** A file the policy is read from, as text, with the name to show in messages. */
export interface PolicyFile {
  name: string;
  text: string;
}

/** A settings or bundle file that cannot be read as one: a usage error, not a failed test. */
export class PolicySourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicySourceError';
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * `mlspanner.environments` from a settings.json (JSON with comments), or from the `settings` of
 * a .code-workspace file. Undefined when the file does not set it.
 */
export function environmentsFromSettings(file: PolicyFile): unknown {
  let root: unknown;
  try {
    root = parseJsonc(file.text);
  } catch (e) {
    throw new PolicySourceError(`${file.name} is not valid JSON with comments: ${(e as Error).message}`);
  }
  if (root === undefined) return undefined;
  if (!isObject(root)) throw new PolicySourceError(`${file.name} must hold a JSON object (VS Code settings), not ${Array.isArray(root) ? 'an array' : typeof root}`);
  const own = (o: Record<string, unknown>, k: string) => (Object.prototype.hasOwnProperty.call(o, k) ? o[k] : undefined);
  const direct = own(root, ENVIRONMENTS_SETTING);
  if (direct !== undefined) return direct;
  const workspace = own(root, 'settings');
  return isObject(workspace) ? own(workspace, ENVIRONMENTS_SETTING) : undefined;
}

/** The effective policy of a repository: its settings plus, optionally, its databricks.yml. */
export function resolvePolicy(settings: PolicyFile | undefined, bundle?: PolicyFile, registry: TargetRegistry = BUILTIN_TARGETS): EnvironmentResolution {
  const raw = settings ? environmentsFromSettings(settings) : undefined;
  return resolveEnvironments(raw ?? {}, bundle ? parseBundleTargets(bundle.text, bundle.name) : undefined, registry);
}
