// code-server 4.100.3 (VS Code 1.100.3) as a process: install, configure, start in its own
// process group, stop, and read its logs. Shared by the end-to-end tests and `npm run demo`;
// no browser here. Recipe: /work/shared/E2E.md.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const repoRoot = path.resolve(__dirname, '..');

const liveGroups = new Set<number>();
process.on('exit', () => {
  // Last resort when mocha exits without running after-hooks: no code-server outlives the run.
  for (const pgid of liveGroups) killGroup(pgid, 'SIGKILL');
});

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // Already gone.
  }
}

export function findCodeServer(): string {
  const fromEnv = process.env.MLSPANNER_CODE_SERVER;
  if (fromEnv) return fromEnv;
  const result = spawnSync('bash', [path.join(repoRoot, 'scripts', 'install-code-server.sh')], {
    cwd: repoRoot,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 15 * 60_000,
  });
  if (result.status !== 0) throw new Error(`scripts/install-code-server.sh failed (exit ${result.status})`);
  const bin = result.stdout.trim().split('\n').pop() ?? '';
  if (!fs.existsSync(bin)) throw new Error(`install-code-server.sh printed no code-server path: ${result.stdout}`);
  return bin;
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = createServer();
  server.listen(0, host);
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs: number,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Installs a .vsix into an extensions dir, as `code --install-extension` does. */
export function installExtension(codeServer: string, vsix: string, extensionsDir: string, userDataDir: string): void {
  const result = spawnSync(
    codeServer,
    ['--user-data-dir', userDataDir, '--extensions-dir', extensionsDir, '--install-extension', vsix, '--force'],
    { encoding: 'utf8', timeout: 120_000, env: codeServerEnv() },
  );
  if (result.status !== 0) {
    throw new Error(`installing ${vsix} failed (exit ${result.status}):\n${result.stdout}\n${result.stderr}`);
  }
}

function codeServerEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  // A code-server started from a VS Code terminal would otherwise forward to that instance.
  for (const key of Object.keys(env)) if (key.startsWith('VSCODE_') || key.startsWith('CODE_SERVER_')) delete env[key];
  return env;
}

export const quietSettings: Record<string, unknown> = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'security.workspace.trust.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'git.enabled': false,
  'chat.commandCenter.enabled': false,
  'window.commandCenter': false,
};

export interface CodeServerProcess {
  child: ChildProcess;
  baseUrl: string;
  stop(): Promise<void>;
}

/** Starts code-server in its own process group, logging to `logFile`; resolves when it answers. */
export async function startCodeServer(opts: {
  codeServer: string;
  host?: string;
  port: number;
  userDataDir: string;
  extensionsDir: string;
  configFile: string;
  folder: string;
  logFile: string;
  trustedDomains?: string[];
}): Promise<CodeServerProcess> {
  const host = opts.host ?? '127.0.0.1';
  const args = [
    '--auth', 'none',
    '--bind-addr', `${host}:${opts.port}`,
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    '--config', opts.configFile,
    '--user-data-dir', opts.userDataDir,
    '--extensions-dir', opts.extensionsDir,
    ...(opts.trustedDomains ?? []).flatMap((d) => ['--link-protection-trusted-domains', d]),
    opts.folder,
  ];
  const log = fs.openSync(opts.logFile, 'w');
  const child = spawn(opts.codeServer, args, { detached: true, stdio: ['ignore', log, log], env: codeServerEnv() });
  fs.closeSync(log);
  const pgid = child.pid;
  if (pgid === undefined) throw new Error('code-server did not start');
  liveGroups.add(pgid);
  let exited = false;
  const exit = once(child, 'exit').then(() => {
    exited = true;
  });
  const stop = async (): Promise<void> => {
    if (!liveGroups.has(pgid)) return;
    killGroup(pgid, 'SIGTERM');
    const stopped = await Promise.race([exit.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5000))]);
    // The extension host and watchers share the group; make sure none of them lingers.
    killGroup(pgid, 'SIGKILL');
    if (!stopped) await Promise.race([exit, new Promise((r) => setTimeout(r, 2000))]);
    liveGroups.delete(pgid);
  };
  const baseUrl = `http://${host}:${opts.port}`;
  try {
    await waitFor(
      `code-server on ${baseUrl} (log: ${opts.logFile})`,
      async () => {
        if (exited) throw new Error(`code-server exited early:\n${fs.readFileSync(opts.logFile, 'utf8')}`);
        const res = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(2000) });
        return res.ok;
      },
      60_000,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { child, baseUrl, stop };
}

function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

/** Text of the extension host logs: exthost*.log, remoteexthost.log and every output channel. */
export function readExtensionHostLogs(userDataDir: string): string {
  return listFiles(path.join(userDataDir, 'logs'))
    .filter((f) => /exthost|ML Spanner|mlspanner/i.test(path.relative(userDataDir, f)))
    .map((f) => `===== ${path.relative(userDataDir, f)}\n${fs.readFileSync(f, 'utf8')}`)
    .join('\n');
}

/** A `createOutputChannel(name)` channel is logged as `<name>.log` (or `N-<name>.log`) under `exthost<N>`. */
export function readOutputChannel(userDataDir: string, name: string): string {
  return listFiles(path.join(userDataDir, 'logs'))
    .filter((f) => /exthost/.test(f) && new RegExp(`(^|-)${escapeRegExp(name)}\\.log$`).test(path.basename(f)))
    .map((f) => fs.readFileSync(f, 'utf8'))
    .join('\n');
}

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
