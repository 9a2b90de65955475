// `npm run demo`: the packaged extension in real VS Code (code-server) against the local sandbox
// (IdP + Databricks, Google and AWS emulators), all on loopback, until Ctrl-C.
// `npm run demo -- --check`: start everything, prove the workbench and the IdP answer, exit 0.
// `--no-build` reuses dist/mlspanner.vsix. Env: PORT (code-server, default 8080).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startSandbox, type Sandbox } from '../sandbox/index';
import {
  findCodeServer,
  installExtension,
  quietSettings,
  repoRoot,
  startCodeServer,
  type CodeServerProcess,
} from '../test/e2e/codeServer';

const IDP_PORT = 9400;
const SERVICE_PORTS = { google: 9411, aws: 9412, databricksDev: 9421, databricksStaging: 9422, databricksProd: 9423 };
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
    const npm = spawnSync('npm', ['run', 'package'], { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] });
    if (npm.status !== 0) throw new Error(`npm run package failed (exit ${npm.status})`);
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
    console.log(`IdP ${sandbox.issuer}`);
    for (const [env, url] of Object.entries(sandbox.databricks)) console.log(`Databricks ${env} ${url}`);

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
      // The IdP opens without VS Code's "open external website?" prompt.
      trustedDomains: [new URL(sandbox.issuer).origin],
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

    section('Ready');
    console.log(`Open ${url}`);
    console.log('Click the ML Spanner icon in the activity bar, then Sign In. Demo users (password shown):');
    for (const u of sandbox.users) console.log(`  ${u.username.padEnd(6)} / ${u.password}  ${u.name} <${u.email}>  groups: ${u.groups.join(', ')}`);
    console.log(`Logs: ${logFile}`);
    console.log('Press Ctrl-C to stop.');
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
