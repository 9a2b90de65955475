import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CheckResult } from '../../../src/core/doctor/Doctor';
import { formatDiagnostics } from '../../../src/core/doctor/Doctor';
import { parseBundleTargets } from '../../../src/core/policy/parseBundleTargets';
import { resolveEnvironments } from '../../../src/core/policy/resolveEnvironments';
import { contributedKeys, settingSource, settingSourceChecks, settingSourcesIndex, vscodeSettingContext, type SettingLayers, type SettingSourceContext } from '../../../src/vscode/doctor/settingSources';
import { env, workspace } from '../fakes/vscode';

const PACKAGE = JSON.parse(fs.readFileSync(path.join(__dirname, '../../../package.json'), 'utf8')) as unknown;
const { keys: KEYS, restricted: RESTRICTED } = contributedKeys(PACKAGE);

/** inspect() answers per key: the window's layers, and per folder its own value. */
function context(layers: Record<string, SettingLayers>, over: Partial<SettingSourceContext> & { folderValues?: Record<string, Record<string, unknown>> } = {}): SettingSourceContext {
  return {
    inspect: (key, folder) => (folder ? { workspaceFolderValue: over.folderValues?.[folder]?.[key] } : { defaultValue: undefined, ...layers[key] }),
    folders: [],
    trusted: true,
    restricted: RESTRICTED,
    ...over,
  };
}

const USER_ENVS = { dev: { requiredGroups: ['ml-dev'], databricks: { host: 'https://dev.example.com' } }, staging: { extends: 'dev', requiredGroups: ['ml-staging'] } };
const WORKSPACE_ENVS = { staging: { maxTtlSeconds: 900 }, prod: { extends: 'staging', requiredGroups: ['ml-prod'], confirm: true } };

describe('doctor: where each setting was read from', () => {
  it('reads the extension’s own settings and the restricted ones from package.json', () => {
    for (const k of ['idp.issuer', 'idp.clientId', 'idp.scopes', 'environments', 'expiryWarningSeconds']) assert.ok(KEYS.includes(k), k);
    assert.ok(RESTRICTED.has('idp.issuer') && RESTRICTED.has('environments') && !RESTRICTED.has('expiryWarningSeconds'));
    assert.deepEqual(contributedKeys({ contributes: { configuration: { properties: { 'mlspanner.a': { scope: 'machine' }, 'mlspanner.b': {}, 'other.c': {} } } } }).machine, new Set(['a']));
  });

  const table: [string, SettingLayers, Partial<SettingSourceContext>, string, string[]][] = [
    ['nothing set', { defaultValue: '' }, {}, 'default', []],
    ['User settings', { globalValue: 'https://login.example.com' }, {}, 'User settings', []],
    ['Workspace over User', { globalValue: 'a', workspaceValue: 'b' }, {}, 'Workspace settings (.vscode/settings.json)', ['User settings']],
    ['a multi-root workspace file', { workspaceValue: 'b' }, { workspaceFile: 'ml.code-workspace', folders: ['api'] }, 'Workspace settings (ml.code-workspace)', []],
    ['a remote window', { globalValue: 'a' }, { remoteName: 'ssh-remote' }, 'User or Remote settings (ssh-remote)', []],
    ['a remote window, a machine setting', { globalValue: 'a' }, { remoteName: 'ssh-remote', machine: new Set(['idp.issuer']) }, 'Remote settings (ssh-remote)', []],
    ['an untrusted workspace ignores its value of a restricted setting', { globalValue: 'a', workspaceValue: 'b' }, { trusted: false }, 'User settings', []],
  ];
  for (const [name, layers, over, effective, overridden] of table)
    it(`mlspanner.idp.issuer: ${name} → ${effective}`, () => {
      const s = settingSource('idp.issuer', context({ 'idp.issuer': layers }, over));
      assert.deepEqual([s.key, s.effective, s.overridden], ['mlspanner.idp.issuer', effective, overridden]);
    });

  it('says when a value is set but ignored: an untrusted workspace, a folder of a multi-root workspace', () => {
    const untrusted = settingSource('idp.clientId', context({ 'idp.clientId': { globalValue: 'a', workspaceValue: 'b' } }, { trusted: false }));
    assert.deepEqual(untrusted.ignored.map((x) => x.layer), ['Workspace settings (.vscode/settings.json)']);
    assert.match(untrusted.ignored[0].why, /not trusted/);
    assert.equal(settingSource('expiryWarningSeconds', context({ expiryWarningSeconds: { globalValue: 1, workspaceValue: 2 } }, { trusted: false })).effective, 'Workspace settings (.vscode/settings.json)', 'not restricted: the workspace applies');
    const folder = settingSource('idp.issuer', context({ 'idp.issuer': { globalValue: 'a' } }, { workspaceFile: 'ml.code-workspace', folders: ['api', 'web'], folderValues: { web: { 'idp.issuer': 'c' } } }));
    assert.deepEqual([folder.effective, folder.ignored.map((x) => x.layer)], ['User settings', ['Folder settings (web)']]);
    assert.match(folder.ignored[0].action, /Move it to Workspace settings \(ml\.code-workspace\) or User settings/);
  });

  it('the doctor report: key settings always, others when set, defaults in one line, each environment with its sources', () => {
    const bundle = parseBundleTargets('targets:\n  dev:\n    workspace:\n      host: https://dev.example.com\n  qa:\n    workspace:\n      host: https://qa.example.com\n  prod:\n    workspace:\n      host: https://prod.example.com\n', 'ml/databricks.yml');
    const merged = { ...USER_ENVS, ...WORKSPACE_ENVS, staging: { ...USER_ENVS.staging, ...WORKSPACE_ENVS.staging } };
    const resolution = resolveEnvironments({ ...merged, dev: { requiredGroups: ['ml-dev'] } }, bundle);
    const ctx = context({
      'idp.issuer': { defaultValue: '', globalValue: 'https://login.example.com' },
      'idp.clientId': { defaultValue: '', globalValue: 'a', workspaceValue: 'b' },
      'idp.scopes': { defaultValue: ['openid'] },
      environments: { defaultValue: {}, globalValue: USER_ENVS, workspaceValue: WORKSPACE_ENVS },
      expiryWarningSeconds: { defaultValue: 300, workspaceValue: 60 },
    });
    const lines = settingSourceChecks(ctx, KEYS, resolution, { source: bundle.source, targets: Object.keys(bundle.targets) }).map((r) => `${r.status} ${r.message}`);
    assert.deepEqual(lines.slice(0, 5), [
      'ok mlspanner.idp.issuer: User settings.',
      'ok mlspanner.idp.clientId: Workspace settings (.vscode/settings.json) (overrides User settings).',
      'ok mlspanner.idp.scopes: default.',
      'ok mlspanner.environments: User settings + Workspace settings (.vscode/settings.json).',
      'ok mlspanner.expiryWarningSeconds: Workspace settings (.vscode/settings.json).',
    ]);
    assert.match(lines[5], /^ok Default: mlspanner\.idp\.groupsClaim, mlspanner\.idp\.flow, .*mlspanner\.confirmation\.rememberMinutes/);
    assert.equal(lines[6], 'ok Bundle ml/databricks.yml: targets dev, qa, prod (it gives workspace hosts only where the settings give none, never groups).');
    assert.deepEqual(lines.slice(7), [
      'ok Environment dev: mlspanner.environments.dev in User settings; databricks.host from ml/databricks.yml.',
      'ok Environment staging: mlspanner.environments.staging in User settings + Workspace settings (.vscode/settings.json) (merged: the workspace wins where both set a value); extends dev; databricks.host from ml/databricks.yml.',
      'ok Environment prod: mlspanner.environments.prod in Workspace settings (.vscode/settings.json); extends staging → dev; databricks.host from ml/databricks.yml.',
      'ok Environment qa: only in ml/databricks.yml (bundle target): listed, not usable until mlspanner.environments.qa gives it requiredGroups.',
    ]);
  });

  it('goes right after the doctor’s Settings lines', () => {
    const r = (area: string): CheckResult => ({ area, status: 'ok', message: area });
    const results = [r('Settings'), r('Settings'), r('Identity provider'), r('Access log')];
    results.splice(settingSourcesIndex(results), 0, ...settingSourceChecks(context({}), [], resolveEnvironments({})));
    assert.deepEqual(results.map((x) => x.area), ['Settings', 'Settings', 'Settings sources', 'Settings sources', 'Settings sources', 'Settings sources', 'Identity provider', 'Access log']);
    assert.match(formatDiagnostics(results, new Date(0)), /## Settings sources\n\n- \*\*OK\*\* mlspanner\.idp\.issuer: default\./);
  });

  describe('with the vscode fake', () => {
    const saved = { getConfiguration: workspace.getConfiguration, isTrusted: workspace.isTrusted, workspaceFile: workspace.workspaceFile, workspaceFolders: workspace.workspaceFolders, remoteName: env.remoteName };
    afterEach(() => Object.assign(workspace, { getConfiguration: saved.getConfiguration, isTrusted: saved.isTrusted, workspaceFile: saved.workspaceFile, workspaceFolders: saved.workspaceFolders }) && (env.remoteName = saved.remoteName));

    it('inspects mlspanner.* for the window and per folder of a multi-root workspace', () => {
      const asked: [string | undefined, string, unknown][] = [];
      const api = { name: 'api', uri: { path: '/w/api' } };
      workspace.getConfiguration = (section?: string, scope?: unknown) => ({
        get: <T>(_k: string, d?: T) => d,
        inspect: (k: string): unknown => {
          asked.push([section, k, scope]);
          if (scope === api.uri) return { workspaceFolderValue: k === 'idp.issuer' ? 'https://folder.example.com' : undefined };
          return k === 'idp.issuer' ? { defaultValue: '', globalValue: 'https://login.example.com', workspaceValue: 'https://ws.example.com' } : { defaultValue: undefined };
        },
      });
      Object.assign(workspace, { isTrusted: false, workspaceFile: { scheme: 'file', path: '/w/ml.code-workspace' }, workspaceFolders: [api] });
      env.remoteName = 'wsl';
      const ctx = vscodeSettingContext(PACKAGE);
      assert.deepEqual(ctx.folders, ['api']);
      const s = settingSource('idp.issuer', ctx);
      assert.equal(s.effective, 'User or Remote settings (wsl)');
      assert.deepEqual(s.ignored.map((x) => x.layer), ['Workspace settings (ml.code-workspace)', 'Folder settings (api)']);
      assert.deepEqual(asked, [
        ['mlspanner', 'idp.issuer', undefined],
        ['mlspanner', 'idp.issuer', api.uri],
      ]);
    });
  });
});
