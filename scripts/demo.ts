// `npm run demo`: the packaged extension in real VS Code (code-server) against the local sandbox
// (IdP + Databricks, Google and AWS emulators), all on loopback, until Ctrl-C.
// `npm run demo -- --check`: start everything, prove the workbench, the IdP and a Databricks
// workspace answer and the extension is installed, stop, exit 0.
// `--no-build` reuses dist/mlspanner.vsix. Env: PORT (code-server, default 8080), MLSPANNER_CACHE_DIR
// (code-server and the demo profile; default ~/.cache/mlspanner).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startSandbox, type Sandbox, type SandboxUser } from '../sandbox/index';
import {
  findCodeServer,
  installExtension,
  quietSettings,
  repoRoot,
  startCodeServer,
  type CodeServerProcess,
} from './codeServer';

const IDP_PORT = 9400;
const SERVICE_PORTS = { google: 9411, aws: 9412, spanner: 9413, databricksDev: 9421, databricksStaging: 9422, databricksProd: 9423 };
const VSIX = path.join(repoRoot, 'dist', 'mlspanner.vsix');

const args = new Set(process.argv.slice(2));
const check = args.has('--check');
const build = !args.has('--no-build');
const port = Number(process.env.PORT ?? 8080);
const demoDir = path.join(process.env.MLSPANNER_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'mlspanner'), 'demo');

function section(title: string): void {
  console.log(`\n=== ${title}`);
}

const CHURN_NOTEBOOK = `# Databricks notebook source
# Churn features for the weekly retention model. Runs with the short-lived credentials
# ML Spanner Access issues for the selected environment: no token in this file.

# COMMAND ----------

from pyspark.sql import functions as F

events = spark.table("ml.raw.customer_events")

# COMMAND ----------

features = (
    events.groupBy("customer_id")
    .agg(
        F.count("*").alias("events_90d"),
        F.countDistinct("session_id").alias("sessions_90d"),
        F.max("event_ts").alias("last_seen"),
    )
    .withColumn("days_since_last_seen", F.datediff(F.current_date(), "last_seen"))
)

# COMMAND ----------

features.write.mode("overwrite").saveAsTable("ml.features.churn_features")
`;

function bundleYaml(sandbox: Sandbox): string {
  const targets = (['dev', 'staging', 'prod'] as const)
    .map((env) => `  ${env}:\n${env === 'dev' ? '    default: true\n' : ''}    workspace:\n      host: ${sandbox.databricks[env]}\n`)
    .join('');
  return `# Databricks Asset Bundle of the demo project. ML Spanner Access reads the targets'
# workspace hosts to discover environments (explicit settings win).
bundle:
  name: churn-model

resources:
  jobs:
    churn_features:
      name: churn-features
      tasks:
        - task_key: features
          notebook_task:
            notebook_path: ./notebooks/churn_features.py

targets:
${targets}`;
}

function writeIfMissing(file: string, content: string): void {
  if (fs.existsSync(file)) return;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
}

/** Keeps what the user changed in the demo's settings, but always points at this sandbox. */
function writeUserSettings(userDataDir: string, sandbox: Sandbox): void {
  const file = path.join(userDataDir, 'User', 'settings.json');
  let existing: Record<string, unknown> = {};
  try {
    existing = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    // First run, or a file with comments we cannot parse: start from the defaults.
  }
  const settings = {
    ...quietSettings,
    ...existing,
    'mlspanner.idp.issuer': sandbox.issuer,
    'mlspanner.idp.clientId': sandbox.clientId,
    'mlspanner.environments': sandbox.environments,
  };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(settings, null, 2));
}

/**
 * `npm run package` with its output kept back: vsce lists every file of the .vsix, which is
 * noise here. Prints one line on success, everything on failure.
 */
function packageExtension(): string {
  const npm = spawnSync('npm', ['run', 'package'], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
  const output = `${npm.stdout ?? ''}${npm.stderr ?? ''}`;
  if (npm.status !== 0) {
    process.stderr.write(output);
    throw new Error(npm.error ? `npm run package could not run: ${npm.error.message}` : `npm run package failed (exit ${npm.status}); its output is above`);
  }
  // vsce: "DONE  Packaged: dist/mlspanner.vsix (9 files, 127.45 KB)", with colours when on a TTY.
  // eslint-disable-next-line no-control-regex -- strips ANSI colour codes
  const done = /Packaged: (.+)$/m.exec(output.replace(/\x1b\[[\d;]*m/g, ''));
  return done ? done[1].trim() : path.relative(repoRoot, VSIX);
}

/** Which sandbox environments a user may use, from the environments' requiredGroups (any-of). */
function environmentsOf(user: SandboxUser, environments: Record<string, unknown>): string {
  return Object.entries(environments)
    .filter(([, e]) => ((e as { requiredGroups?: string[] }).requiredGroups ?? []).some((g) => user.groups.includes(g)))
    .map(([name, e]) => ((e as { confirm?: boolean }).confirm ? `${name} (asks for a reason)` : name))
    .join(', ');
}

/** The one block to read: where to go, who to be, what to click. */
function readyBlock(url: string, sandbox: Sandbox, logFile: string): string {
  const rule = '─'.repeat(78);
  const rows = sandbox.users.map((u) => [u.username, u.groups.join(', '), environmentsOf(u, sandbox.environments)]);
  const width = [0, 1].map((i) => Math.max(i ? 'groups'.length : 'user'.length, ...rows.map((r) => r[i].length)));
  const table = [['user', 'groups', 'may use'], ...rows].map((r) => `    ${r[0].padEnd(width[0])}   ${r[1].padEnd(width[1])}   ${r[2]}`).join('\n');
  const passwords = [...new Set(sandbox.users.map((u) => u.password))];
  return `
${rule}
  ML Spanner demo is ready. Open:

    ${url}

  Demo users (password ${passwords.map((p) => `"${p}"`).join(' / ')}):
${table}

  Then:
    1. Click the ML Spanner icon in the activity bar, then Sign In; log in as alice.
    2. Command Palette (F1): "ML Spanner: Run Job in Staging…", pick train-churn-model, Run.
    3. When it finishes: Open Run Page (the notification or the Runs view) or Show Run Output.
    4. "ML Spanner: Run ML Spanner Query…" with
       SELECT * FROM ML.PREDICT(MODEL churn_model, TABLE customers) WHERE country = 'DE' LIMIT 5
    5. Sign out, sign in as carol and run a job in prod: it asks for a reason, kept in the access log.

  code-server log: ${logFile}
  Ctrl-C stops code-server and the sandbox. Sandbox requests are logged below.
${rule}`;
}

async function expectOk(what: string, url: string, validate?: (body: string) => boolean): Promise<void> {
  const res = await fetch(url, { signal: AbortSignal.timeout(15_000) });
  const body = await res.text();
  if (res.status !== 200 || (validate && !validate(body))) {
    throw new Error(`${what} check failed: GET ${url} → ${res.status}\n${body.slice(0, 500)}`);
  }
  console.log(`ok  ${what}: GET ${url} → 200`);
}

async function main(): Promise<void> {
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`PORT must be a port number, got ${process.env.PORT}`);

  if (build) {
    section('Packaging the extension (npm run package)');
    console.log(packageExtension());
  }
  if (!fs.existsSync(VSIX)) throw new Error(`${VSIX} is missing; run without --no-build`);

  section('code-server 4.100.3 (VS Code 1.100.3)');
  const codeServer = findCodeServer();
  console.log(codeServer);

  const userDataDir = path.join(demoDir, 'user-data');
  const extensionsDir = path.join(demoDir, 'extensions');
  const workspace = path.join(demoDir, 'workspace');
  fs.mkdirSync(extensionsDir, { recursive: true });

  section('Installing the extension into the demo profile');
  installExtension(codeServer, VSIX, extensionsDir, userDataDir);
  console.log(`${path.relative(repoRoot, VSIX)} → ${extensionsDir}`);

  section('Sandbox: identity provider and cloud emulators');
  let sandbox: Sandbox | undefined;
  let server: CodeServerProcess | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await server?.stop();
      await sandbox?.close();
    })());
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      console.log(`\n${signal}: stopping code-server and the sandbox...`);
      void stop().then(() => process.exit(0), () => process.exit(1));
    });
  }

  try {
    sandbox = await startSandbox({
      idpPort: IDP_PORT,
      ports: SERVICE_PORTS,
      stateDir: path.join(demoDir, 'sandbox-state'),
      quiet: check,
    });
    // The Databricks workspaces print their own line (unless --check keeps the sandbox quiet).
    console.log(`Identity provider ${sandbox.issuer}`);
    console.log(`Google STS ${sandbox.google.stsUrl}, Spanner ${sandbox.google.spannerUrl}, AWS STS ${sandbox.aws.stsUrl}`);
    if (check) for (const [env, url] of Object.entries(sandbox.databricks)) console.log(`Databricks ${env} ${url}`);

    writeIfMissing(path.join(workspace, 'notebooks', 'churn_features.py'), CHURN_NOTEBOOK);
    writeIfMissing(path.join(workspace, 'databricks.yml'), bundleYaml(sandbox));
    writeUserSettings(userDataDir, sandbox);

    section(`Starting code-server on 127.0.0.1:${port}`);
    const logFile = path.join(demoDir, 'code-server.log');
    server = await startCodeServer({
      codeServer,
      port,
      userDataDir,
      extensionsDir,
      configFile: path.join(demoDir, 'code-server.yaml'),
      folder: workspace,
      logFile,
      // The IdP and the run pages open without VS Code's "open external website?" prompt.
      trustedDomains: [sandbox.issuer, ...Object.values(sandbox.databricks)].map((u) => new URL(u).origin),
    }).catch((err: unknown) => {
      throw new Error(`code-server did not start on 127.0.0.1:${port} (is the port in use? set PORT): ${String(err)}`);
    });
    const url = `${server.baseUrl}/?folder=${encodeURI(workspace)}`;

    if (check) {
      section('Checking the demo');
      await expectOk('workbench', url, (body) => body.includes('workbench'));
      await expectOk('IdP discovery', `${sandbox.issuer}/.well-known/openid-configuration`, (body) => {
        return (JSON.parse(body) as { issuer?: string }).issuer === sandbox?.issuer;
      });
      const staging = sandbox.databricks.staging;
      await expectOk('Databricks staging', `${staging}/oidc/.well-known/oauth-authorization-server`, (body) => {
        return (JSON.parse(body) as { token_endpoint?: string }).token_endpoint === `${staging}/oidc/v1/token`;
      });
      const list = spawnSync(codeServer, ['--user-data-dir', userDataDir, '--extensions-dir', extensionsDir, '--list-extensions'], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      if (!/^mlspanner\.mlspanner$/m.test(list.stdout)) throw new Error(`extension not installed:\n${list.stdout}${list.stderr}`);
      console.log('ok  extension mlspanner.mlspanner installed');
      await stop();
      console.log('\nDemo check passed.');
      process.exit(0);
    }

    console.log(readyBlock(url, sandbox, logFile));
    // Stay alive on the servers' handles until a signal handler stops everything.
  } catch (err) {
    await stop();
    throw err;
  }
}

main().catch((err: unknown) => {
  console.error(`\ndemo failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
