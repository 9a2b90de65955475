// js-yaml is only needed once a workspace has a databricks.yml, and evaluating it costs several
// ms of the extension's load: it is required on first use (loadYaml). esbuild keeps a require()
// inside a function lazy in the CommonJS bundle.
import type * as JsYaml from 'js-yaml';
import { checkEndpointUrl } from './endpointUrl';
import type { EnvironmentProblem } from './Environment';

/** Workspace hosts discovered from a Databricks Asset Bundle (databricks.yml). */
export interface BundleTargets {
  /** Where the targets came from, for explain-access (e.g. "databricks.yml"). */
  source: string;
  /** Target name → workspace origin (own `workspace.host`, else the top-level one). */
  targets: Record<string, { host: string }>;
  problems: EnvironmentProblem[];
}

let yamlModule: typeof JsYaml | undefined;

function loadYaml(): typeof JsYaml {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  yamlModule ??= require('js-yaml') as typeof JsYaml;
  return yamlModule;
}

/** True once js-yaml has been evaluated by this module (for tests of lazy loading). */
export function yamlLoaded(): boolean {
  return yamlModule !== undefined;
}

function field(o: unknown, key: string): unknown {
  return o && typeof o === 'object' && !Array.isArray(o) ? (o as Record<string, unknown>)[key] : undefined;
}

/**
 * Reads `targets.<name>.workspace.host` and the top-level `workspace.host` (the default for
 * targets without one) from a bundle configuration. Hosts that use bundle variables
 * (`${var.x}`) cannot be resolved here and are reported, not guessed.
 */
export function parseBundleTargets(yamlText: string, source = 'databricks.yml'): BundleTargets {
  const out: BundleTargets = { source, targets: {}, problems: [] };
  let root: unknown;
  try {
    // JSON_SCHEMA: plain data only (no custom tags); js-yaml (~40 KB) rather than yaml (~110 KB)
    // keeps the extension bundle small.
    const yaml = loadYaml();
    root = yaml.load(yamlText, { schema: yaml.JSON_SCHEMA, filename: source });
  } catch (e) {
    out.problems.push({ path: source, message: `is not valid YAML: ${(e as Error).message.split('\n')[0]}` });
    return out;
  }
  const readHost = (value: unknown, path: string): string | undefined => {
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'string' && value.includes('${')) {
      out.problems.push({
        path: `${source}: ${path}`,
        message: 'uses a bundle variable, which the extension cannot resolve; set databricks.host for this environment in mlspanner.environments',
      });
      return undefined;
    }
    const checked = checkEndpointUrl(value, { originOnly: true });
    if ('error' in checked) {
      out.problems.push({ path: `${source}: ${path}`, message: checked.error });
      return undefined;
    }
    return checked.url;
  };
  const defaultHost = readHost(field(field(root, 'workspace'), 'host'), 'workspace.host');
  const targets = field(root, 'targets');
  if (targets === undefined || targets === null) return out;
  if (typeof targets !== 'object' || Array.isArray(targets)) {
    out.problems.push({ path: `${source}: targets`, message: 'must be a mapping of target name to target' });
    return out;
  }
  for (const [name, target] of Object.entries(targets as Record<string, unknown>)) {
    const own = field(field(target, 'workspace'), 'host');
    // An unusable host of the target's own must not fall back to the default workspace.
    const host = own === undefined || own === null ? defaultHost : readHost(own, `targets.${name}.workspace.host`);
    if (host) out.targets[name] = { host };
  }
  return out;
}
