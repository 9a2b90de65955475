import { DATABRICKS_HOST_DEFAULT, IDP_HOST_DEFAULT, startSandbox, type SandboxOptions, type SandboxService } from './index';
import { TRUST_ENV, trustFromEnv } from './trust';

/**
 * `npm run sandbox`: the IdP and every emulator on fixed ports, for the demo and manual runs.
 * Flags (or env): --idp-host (MLSPANNER_SANDBOX_IDP_HOST), --idp-port, --services-host, --databricks-host,
 * --google-port, --spanner-port, --aws-port, --databricks-dev-port, --databricks-staging-port,
 * --databricks-prod-port, --state-dir, --quiet, --trusted-issuer, --trusted-audience,
 * --subject-claim, --groups-claim.
 */

const DEFAULT_PORTS: Record<SandboxService, number> = { google: 9411, aws: 9412, spanner: 9413, databricksDev: 9421, databricksStaging: 9422, databricksProd: 9423 };

function parseArgs(argv: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${arg}`);
    const eq = arg.indexOf('=');
    if (eq > 0) out.set(arg.slice(2, eq), arg.slice(eq + 1));
    else if (arg === '--quiet' || arg === '--help') out.set(arg.slice(2), 'true');
    else out.set(arg.slice(2), argv[++i] ?? '');
  }
  return out;
}

function envName(flag: string): string {
  return `MLSPANNER_SANDBOX_${flag.replace(/-/g, '_').toUpperCase()}`;
}

function option(args: Map<string, string>, flag: string): string | undefined {
  return args.get(flag) ?? process.env[envName(flag)];
}

function portOption(args: Map<string, string>, flag: string, fallback: number): number {
  const raw = option(args, flag);
  if (raw === undefined) return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--${flag} must be a port number, got ${raw}`);
  return port;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.has('help')) {
    console.log(`usage: npm run sandbox -- [--idp-host ${IDP_HOST_DEFAULT}] [--idp-port 9400] [--services-host 127.0.0.1] [--databricks-host ${DATABRICKS_HOST_DEFAULT}]
  [--google-port 9411] [--spanner-port 9413] [--aws-port 9412] [--databricks-dev-port 9421] [--databricks-staging-port 9422]
  [--databricks-prod-port 9423] [--state-dir DIR] [--quiet]
  [--trusted-issuer URL] [--trusted-audience AUD] [--subject-claim sub] [--groups-claim groups]
Every flag also reads MLSPANNER_SANDBOX_<FLAG> (e.g. ${envName('idp-port')}); trust also ${Object.values(TRUST_ENV).join(', ')}.`);
    return;
  }
  const opts: SandboxOptions = {
    idpHost: option(args, 'idp-host') ?? IDP_HOST_DEFAULT,
    idpPort: portOption(args, 'idp-port', 9400),
    servicesHost: option(args, 'services-host') ?? '127.0.0.1',
    databricksHost: option(args, 'databricks-host') ?? DATABRICKS_HOST_DEFAULT,
    ports: {
      google: portOption(args, 'google-port', DEFAULT_PORTS.google),
      spanner: portOption(args, 'spanner-port', DEFAULT_PORTS.spanner),
      aws: portOption(args, 'aws-port', DEFAULT_PORTS.aws),
      databricksDev: portOption(args, 'databricks-dev-port', DEFAULT_PORTS.databricksDev),
      databricksStaging: portOption(args, 'databricks-staging-port', DEFAULT_PORTS.databricksStaging),
      databricksProd: portOption(args, 'databricks-prod-port', DEFAULT_PORTS.databricksProd),
    },
    stateDir: option(args, 'state-dir'),
    quiet: option(args, 'quiet') === 'true',
    trust: {
      ...trustFromEnv(),
      ...Object.fromEntries(
        (
          [
            ['issuer', 'trusted-issuer'],
            ['audience', 'trusted-audience'],
            ['subjectClaim', 'subject-claim'],
            ['groupsClaim', 'groups-claim'],
          ] as const
        )
          .map(([key, flag]) => [key, args.get(flag)])
          .filter(([, v]) => v),
      ),
    },
  };
  const sandbox = await startSandbox(opts);
  console.log(`
ML Spanner sandbox is running.
  IdP issuer:   ${sandbox.issuer}
  Client id:    ${sandbox.clientId}
  Emulators trust: issuer ${sandbox.trust.issuer}, audience ${sandbox.trust.audience}, subject claim ${sandbox.trust.subjectClaim}, groups claim ${sandbox.trust.groupsClaim}
  Databricks:   dev ${sandbox.databricks.dev}  staging ${sandbox.databricks.staging}  prod ${sandbox.databricks.prod}
  Google:       STS ${sandbox.google.stsUrl}/v1/token  IAM Credentials ${sandbox.google.iamCredentialsUrl}
  Spanner:      ${sandbox.google.spannerUrl}/v1/projects/ml-sandbox/instances/ml/databases/features (tables customers, features; model churn_model)
  AWS STS:      ${sandbox.aws.stsUrl}
  Demo users (password "${sandbox.users[0]?.password}"):
${sandbox.users.map((u) => `    ${u.username.padEnd(6)} ${u.name.padEnd(14)} ${u.groups.join(', ')}`).join('\n')}

Settings (settings.json):
${JSON.stringify({ 'mlspanner.idp.issuer': sandbox.issuer, 'mlspanner.idp.clientId': sandbox.clientId, 'mlspanner.environments': sandbox.environments }, null, 2)}

Press Ctrl+C to stop.`);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping the sandbox...`);
    sandbox.close().then(
      () => process.exit(0),
      (e: unknown) => {
        console.error('error while stopping:', (e as Error).message);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((e: unknown) => {
  console.error(`sandbox failed to start: ${(e as Error).message}`);
  process.exit(1);
});
