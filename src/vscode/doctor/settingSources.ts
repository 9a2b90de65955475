import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CheckResult } from '../../core/doctor/Doctor';
import type { EnvironmentResolution } from '../../core/policy/Environment';

/**
 * Where each `mlspanner.*` setting was read from, for the doctor: the default, User settings,
 * Workspace settings (`.vscode/settings.json` or the `.code-workspace` file), or Folder settings
 * of a folder of a multi-root workspace, by `WorkspaceConfiguration.inspect()`. Object settings
 * (`mlspanner.environments`) are merged by VS Code across those layers, so each environment
 * says which layers define it, and which of its values come from `databricks.yml`.
 */

/** What `inspect()` reports for one key (the layers this extension's settings can have). */
export interface SettingLayers {
  defaultValue?: unknown;
  globalValue?: unknown;
  workspaceValue?: unknown;
  workspaceFolderValue?: unknown;
}

export interface SettingSourceContext {
  /** `inspect('mlspanner.' + key)` for the window, or scoped to a folder (`workspaceFolderValue`). */
  inspect(key: string, folder?: string): SettingLayers | undefined;
  /** Folder names of a multi-root workspace (empty for a single folder or none). */
  folders: readonly string[];
  /** Base name of the `.code-workspace` file of a multi-root workspace. */
  workspaceFile?: string;
  /** `vscode.env.remoteName` in a remote window (ssh-remote, wsl, dev-container, codespaces…). */
  remoteName?: string;
  trusted: boolean;
  /** Keys (without `mlspanner.`) VS Code takes only from User settings in an untrusted workspace. */
  restricted: ReadonlySet<string>;
  /** Keys of `machine` (or `machine-overridable`) scope: in a remote window they come from the remote's settings. */
  machine?: ReadonlySet<string>;
}

/** The settings the doctor always names, whatever their source (the sign-in and the environments). */
export const KEY_SETTINGS = ['idp.issuer', 'idp.clientId', 'idp.scopes', 'environments'] as const;

type Layer = 'default' | 'user' | 'workspace' | 'folder';

function layerLabel(layer: Layer, ctx: SettingSourceContext, folder?: string, key?: string): string {
  switch (layer) {
    case 'default':
      return 'default';
    case 'user':
      // In a remote window a machine setting is read from the remote machine's settings only;
      // any other is the user's, with the remote machine's merged over it.
      if (ctx.remoteName && key && ctx.machine?.has(key)) return `Remote settings (${ctx.remoteName})`;
      return ctx.remoteName ? `User or Remote settings (${ctx.remoteName})` : 'User settings';
    case 'workspace':
      return `Workspace settings (${ctx.workspaceFile ?? '.vscode/settings.json'})`;
    case 'folder':
      return `Folder settings (${folder})`;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** One setting's sources, as the doctor says them. */
export interface SettingSource {
  key: string;
  /** Where the value the extension uses comes from, e.g. "Workspace settings (.vscode/settings.json)". */
  effective: string;
  /** Layers that also set it but lose to `effective` (or are merged into it, for objects). */
  overridden: string[];
  /** Layers set but not used, and why. */
  ignored: { layer: string; why: string; action: string }[];
  isDefault: boolean;
}

/** Where `mlspanner.<key>` comes from. */
export function settingSource(key: string, ctx: SettingSourceContext): SettingSource {
  const i = ctx.inspect(key) ?? {};
  const untrusted = !ctx.trusted && ctx.restricted.has(key);
  const ignored: SettingSource['ignored'] = [];
  const used: Layer[] = [];
  if (i.globalValue !== undefined) used.push('user');
  if (i.workspaceValue !== undefined) {
    if (untrusted)
      ignored.push({
        layer: layerLabel('workspace', ctx),
        why: 'this workspace is not trusted, so VS Code takes this setting from User settings only',
        action: 'Trust the workspace if its settings should apply, or set it in User settings.',
      });
    else used.push('workspace');
  }
  // The extension reads window-wide settings (no folder scope): a folder's value is not used.
  for (const folder of ctx.folders) {
    const f = ctx.inspect(key, folder)?.workspaceFolderValue;
    if (f !== undefined)
      ignored.push({
        layer: layerLabel('folder', ctx, folder),
        why: 'ML Spanner reads the settings of the whole window (User and Workspace), not one folder’s',
        action: `Move it to ${layerLabel('workspace', ctx)} or User settings.`,
      });
  }
  const merged = used.length > 1 && [i.globalValue, i.workspaceValue].every((v) => v === undefined || isObject(v));
  if (!used.length) return { key: `mlspanner.${key}`, effective: 'default', overridden: [], ignored, isDefault: true };
  const top = used[used.length - 1];
  return {
    key: `mlspanner.${key}`,
    effective: merged ? used.map((l) => layerLabel(l, ctx, undefined, key)).join(' + ') : layerLabel(top, ctx, undefined, key),
    overridden: merged ? [] : used.slice(0, -1).map((l) => layerLabel(l, ctx, undefined, key)),
    ignored,
    isDefault: false,
  };
}

/**
 * Doctor lines: where each key setting, each other setting that is set, the bundle and each
 * environment come from.
 */
export function settingSourceChecks(ctx: SettingSourceContext, keys: readonly string[], resolution: EnvironmentResolution, bundle?: { source: string; targets: readonly string[] }): CheckResult[] {
  const area = 'Settings sources';
  const out: CheckResult[] = [];
  const defaults: string[] = [];
  const all = [...new Set([...KEY_SETTINGS, ...keys])];
  for (const key of all) {
    const s = settingSource(key, ctx);
    if (s.isDefault && !s.ignored.length && !(KEY_SETTINGS as readonly string[]).includes(key)) {
      defaults.push(s.key);
      continue;
    }
    const extra = s.overridden.length ? ` (overrides ${s.overridden.join(', ')})` : '';
    out.push({ area, status: 'ok', message: `${s.key}: ${s.effective}${extra}.` });
    for (const x of s.ignored)
      out.push({ area, status: 'warn', message: `${s.key} in ${x.layer} is ignored: ${x.why}.`, action: x.action });
  }
  if (defaults.length) out.push({ area, status: 'ok', message: `Default: ${defaults.join(', ')}.` });
  if (bundle)
    out.push({ area, status: 'ok', message: `Bundle ${bundle.source}: targets ${bundle.targets.join(', ') || 'none'} (it gives workspace hosts only where the settings give none, never groups).` });
  out.push(...environmentSourceChecks(ctx, resolution));
  return out;
}

/** Per environment: which settings layers define it (VS Code merges them), `extends`, and values from databricks.yml. */
export function environmentSourceChecks(ctx: SettingSourceContext, resolution: EnvironmentResolution): CheckResult[] {
  const area = 'Settings sources';
  const i = ctx.inspect('environments') ?? {};
  const untrusted = !ctx.trusted && ctx.restricted.has('environments');
  const layers: [Layer, unknown][] = [
    ['user', i.globalValue],
    ['workspace', untrusted ? undefined : i.workspaceValue],
  ];
  const out: CheckResult[] = [];
  for (const env of Object.values(resolution.environments)) {
    const defined = layers.filter(([, v]) => isObject(v) && Object.prototype.hasOwnProperty.call(v, env.name)).map(([l]) => layerLabel(l, ctx));
    const fromBundle = Object.entries(env.origins).filter(([, o]) => o.kind === 'bundle') as [string, { kind: 'bundle'; source: string }][];
    const bundleFiles = [...new Set(fromBundle.map(([, o]) => o.source))];
    const parts: string[] = [];
    if (env.definedBy === 'bundle')
      parts.push(`only in ${bundleFiles.join(', ') || 'databricks.yml'} (bundle target): listed, not usable until mlspanner.environments.${env.name} gives it requiredGroups`);
    else parts.push(`mlspanner.environments.${env.name} in ${defined.length ? defined.join(' + ') : 'settings'}${defined.length > 1 ? ' (merged: the workspace wins where both set a value)' : ''}`);
    if (env.chain.length > 1) parts.push(`extends ${env.chain.slice(1).join(' → ')}`);
    if (env.definedBy === 'settings' && fromBundle.length) parts.push(`${fromBundle.map(([k]) => k).join(', ')} from ${bundleFiles.join(', ')}`);
    out.push({ area, status: 'ok', message: `Environment ${env.name}: ${parts.join('; ')}.` });
  }
  return out;
}

/** Where the doctor puts these lines: right after its Settings lines. */
export function settingSourcesIndex(results: readonly CheckResult[]): number {
  let last = -1;
  results.forEach((r, i) => {
    if (r.area === 'Settings') last = i;
  });
  return last + 1;
}

/** The extension's own settings (from its package.json), without the `mlspanner.` prefix. */
export function contributedKeys(packageJSON: unknown): { keys: string[]; restricted: Set<string>; machine: Set<string> } {
  const pkg = packageJSON as { contributes?: { configuration?: unknown }; capabilities?: { untrustedWorkspaces?: { restrictedConfigurations?: unknown } } } | undefined;
  const sections = ([] as unknown[]).concat(pkg?.contributes?.configuration ?? []);
  const properties = sections.flatMap((c) => Object.entries((c as { properties?: Record<string, { scope?: unknown }> }).properties ?? {})).filter(([k]) => k.startsWith('mlspanner.'));
  const restricted = pkg?.capabilities?.untrustedWorkspaces?.restrictedConfigurations;
  const strip = (k: string) => k.slice('mlspanner.'.length);
  return {
    keys: properties.map(([k]) => strip(k)),
    restricted: new Set((Array.isArray(restricted) ? restricted : []).filter((k): k is string => typeof k === 'string' && k.startsWith('mlspanner.')).map(strip)),
    machine: new Set(properties.filter(([, v]) => v?.scope === 'machine' || v?.scope === 'machine-overridable').map(([k]) => strip(k))),
  };
}

/** The real window: VS Code's configuration, folders, workspace file, remote name and trust. */
export function vscodeSettingContext(packageJSON: unknown = vscode.extensions.getExtension('mlspanner.mlspanner')?.packageJSON): SettingSourceContext & { keys: string[] } {
  const file = vscode.workspace.workspaceFile;
  // An untitled multi-root workspace has no file yet; its settings live in VS Code's storage.
  const workspaceFile = file && typeof file.path === 'string' ? (file.scheme === 'untitled' ? 'untitled workspace' : path.posix.basename(file.path)) : undefined;
  // Folder settings exist only in a multi-root workspace; a single folder's are the workspace's.
  const folders = workspaceFile ? (vscode.workspace.workspaceFolders ?? []) : [];
  const byName = new Map(folders.map((f) => [f.name, f]));
  const { keys, restricted, machine } = contributedKeys(packageJSON);
  return {
    keys,
    inspect: (key, folder) => vscode.workspace.getConfiguration('mlspanner', folder ? byName.get(folder)?.uri : undefined).inspect(key),
    folders: folders.map((f) => f.name),
    workspaceFile,
    remoteName: vscode.env.remoteName,
    trusted: vscode.workspace.isTrusted,
    restricted,
    machine,
  };
}
