// First: drops oidc-provider's one known Node 20 notice before the IdP module loads it.
import './quietRuntimeNotice';
import { startDatabricksWorkspace } from './databricks/DatabricksWorkspace';
import { startAwsStsEmulator, type AwsRoleTrust } from './aws/AwsStsEmulator';
import { startGoogleEmulator, type ImpersonationRule } from './google/GoogleEmulator';
import { startIdentityProvider, type SandboxIdentityProvider, type TokenEndpointFault } from './idp/IdentityProvider';
import { DEMO_USERS } from './idp/users';
import { sandboxSpannerDatabases } from './spanner/demoData';
import { startSpannerEmulator } from './spanner/SpannerEmulator';
import { federationTrustOf, resolveTrust, trustFromEnv, type SandboxTrust } from './trust';

export type { SandboxTrust } from './trust';
export type { TokenEndpointFault } from './idp/IdentityProvider';
export { startFaultProxy, type FaultProxy, type ProxyFault } from './FaultProxy';

export type SandboxService = 'google' | 'spanner' | 'aws' | 'databricksDev' | 'databricksStaging' | 'databricksProd';
export type SandboxEnvironment = 'dev' | 'staging' | 'prod';

export interface SandboxOptions {
  idpHost?: string;
  /** 0 or absent = a free port. */
  idpPort?: number;
  /** Host of the Google, Spanner and AWS emulators; default 127.0.0.1. */
  servicesHost?: string;
  /**
   * Host of the Databricks workspaces; default 127.0.0.4 (DATABRICKS_HOST_DEFAULT). Not 127.0.0.1
   * or localhost: code-server rewrites links to those onto its own port proxy and drops their
   * path and query, so "Open Run Page" would land on code-server instead of the run page.
   */
  databricksHost?: string;
  ports?: Partial<Record<SandboxService, number>>;
  idTokenTtlSeconds?: number;
  accessTokenTtlSeconds?: number;
  /** Which IdP the emulators trust; defaults to the sandbox IdP, then MLSPANNER_SANDBOX_* env. */
  trust?: Partial<SandboxTrust>;
  /** Keeps the IdP signing key across restarts. */
  stateDir?: string;
  quiet?: boolean;
}

export interface SandboxUser {
  username: string;
  password: string;
  name: string;
  email: string;
  groups: string[];
}

export interface Sandbox {
  /** The sandbox IdP's issuer (what the extension signs in to). */
  issuer: string;
  clientId: string;
  users: SandboxUser[];
  /** Workspace origins, e.g. http://127.0.0.4:9421. */
  databricks: Record<SandboxEnvironment, string>;
  google: {
    /** Base URL: the exchange is POST {stsUrl}/v1/token (the `spanner.stsEndpoint` value). */
    stsUrl: string;
    /** Base URL: POST {iamCredentialsUrl}/v1/projects/-/serviceAccounts/{email}:generateAccessToken. */
    iamCredentialsUrl: string;
    spannerUrl?: string;
    audience(env: string): string;
    serviceAccount(env: string): string;
  };
  aws: {
    /** Endpoint origin (`aws.stsEndpoint`): POST / with the query protocol. */
    stsUrl: string;
    roleArn(env: string): string;
  };
  /** Ready value for the `mlspanner.environments` setting, pointing at every emulator. */
  environments: Record<string, unknown>;
  /** What the emulators trust (the sandbox IdP unless overridden). */
  trust: SandboxTrust;
  admin: {
    revokeUser(username: string): Promise<void>;
    failTokenEndpointOnce(fault?: TokenEndpointFault): Promise<void>;
    /** The next `fault.count` token requests fail (status), stall (delayMs) or drop the connection (reset); undefined clears. */
    failTokenEndpoint(fault: TokenEndpointFault | undefined): Promise<void>;
  };
  close(): Promise<void>;
}

export const SANDBOX_PROJECT = 'ml-sandbox';
export const SANDBOX_PROJECT_NUMBER = '123456789';
export const SANDBOX_AWS_ACCOUNT = '111122223333';
export const SANDBOX_WORKLOAD_IDENTITY_AUDIENCE = `//iam.googleapis.com/projects/${SANDBOX_PROJECT_NUMBER}/locations/global/workloadIdentityPools/ml-pool/providers/sandbox-idp`;
/** The IdP's default address (see IdentityProvider.ts); the other emulators use 127.0.0.1. */
export const IDP_HOST_DEFAULT = '127.0.0.2';
/** Run pages are opened in the browser from VS Code: an address code-server leaves alone. */
export const DATABRICKS_HOST_DEFAULT = '127.0.0.4';
const ENVIRONMENTS: readonly SandboxEnvironment[] = ['dev', 'staging', 'prod'];
const DATABRICKS_PORT_KEY: Record<SandboxEnvironment, SandboxService> = { dev: 'databricksDev', staging: 'databricksStaging', prod: 'databricksProd' };

function assertEnvironment(env: string): SandboxEnvironment {
  if (!(ENVIRONMENTS as readonly string[]).includes(env)) throw new Error(`unknown sandbox environment "${env}" (dev, staging, prod)`);
  return env as SandboxEnvironment;
}

export function serviceAccountFor(env: string): string {
  return `ml-${assertEnvironment(env)}@${SANDBOX_PROJECT}.iam.gserviceaccount.com`;
}

export function roleArnFor(env: string): string {
  return `arn:aws:iam::${SANDBOX_AWS_ACCOUNT}:role/ml-${assertEnvironment(env)}`;
}

/** Each environment's group gates its service account and AWS role, like the real IAM bindings. */
function impersonationRules(): Record<string, ImpersonationRule> {
  return Object.fromEntries(ENVIRONMENTS.map((env) => [serviceAccountFor(env), { groups: [`ml-${env}`] }]));
}

function awsRoles(): AwsRoleTrust[] {
  return ENVIRONMENTS.map((env) => ({ roleArn: roleArnFor(env), requiredGroups: [`ml-${env}`], maxSessionDurationSeconds: 3600 }));
}

/** The `mlspanner.environments` value (DESIGN.md settings contract); `extends` merges objects. */
export function sandboxEnvironments(urls: { databricks: Record<SandboxEnvironment, string>; googleSts: string; iamCredentials: string; spanner?: string; awsSts: string }): Record<string, unknown> {
  return {
    dev: {
      requiredGroups: ['ml-dev'],
      databricks: { host: urls.databricks.dev },
      spanner: {
        project: SANDBOX_PROJECT,
        instance: 'ml',
        database: 'features',
        workloadIdentityAudience: SANDBOX_WORKLOAD_IDENTITY_AUDIENCE,
        stsEndpoint: urls.googleSts,
        iamCredentialsEndpoint: urls.iamCredentials,
        ...(urls.spanner ? { endpoint: urls.spanner } : {}),
      },
      aws: { roleArn: roleArnFor('dev'), region: 'us-east-1', stsEndpoint: urls.awsSts },
    },
    staging: {
      extends: 'dev',
      requiredGroups: ['ml-staging'],
      databricks: { host: urls.databricks.staging },
      spanner: { serviceAccount: serviceAccountFor('staging') },
      aws: { roleArn: roleArnFor('staging') },
    },
    prod: {
      extends: 'staging',
      requiredGroups: ['ml-prod'],
      confirm: true,
      databricks: { host: urls.databricks.prod },
      spanner: { serviceAccount: serviceAccountFor('prod') },
      aws: { roleArn: roleArnFor('prod') },
    },
  };
}

/** Starts the IdP and every emulator; on any failure, stops what already started. */
export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async (): Promise<void> => {
    const errors: unknown[] = [];
    for (const close of closers.splice(0).reverse()) {
      try {
        await close();
      } catch (e) {
        errors.push(e);
      }
    }
    if (errors.length) throw errors[0];
  };
  try {
    const idp: SandboxIdentityProvider = await startIdentityProvider({
      host: opts.idpHost ?? IDP_HOST_DEFAULT,
      port: opts.idpPort ?? 0,
      idTokenTtlSeconds: opts.idTokenTtlSeconds,
      accessTokenTtlSeconds: opts.accessTokenTtlSeconds,
      stateDir: opts.stateDir,
      quiet: opts.quiet,
    });
    closers.push(() => idp.close());
    const trust = resolveTrust({ issuer: idp.issuer, audience: idp.clientId, subjectClaim: 'sub', groupsClaim: 'groups' }, trustFromEnv(), opts.trust);
    const servicesHost = opts.servicesHost ?? '127.0.0.1';
    const ports = opts.ports ?? {};

    const google = await startGoogleEmulator({
      host: servicesHost,
      port: ports.google ?? 0,
      providers: [
        {
          audience: SANDBOX_WORKLOAD_IDENTITY_AUDIENCE,
          issuer: trust.issuer,
          allowedAudiences: [trust.audience],
          subjectClaim: trust.subjectClaim,
          groupsClaim: trust.groupsClaim,
        },
      ],
      serviceAccounts: impersonationRules(),
      quiet: opts.quiet,
    });
    closers.push(() => google.close());

    // Spanner accepts the Google emulator's access tokens, as Cloud Spanner accepts Google's.
    const spanner = await startSpannerEmulator({
      host: servicesHost,
      port: ports.spanner ?? 0,
      lookupToken: (token) => google.lookupToken(token),
      databases: sandboxSpannerDatabases({
        project: SANDBOX_PROJECT,
        instance: 'ml',
        groups: ENVIRONMENTS.map((env) => `ml-${env}`),
        serviceAccounts: ENVIRONMENTS.map(serviceAccountFor),
        prodServiceAccount: serviceAccountFor('prod'),
      }),
      quiet: opts.quiet,
    });
    closers.push(() => spanner.close());

    const aws = await startAwsStsEmulator({ host: servicesHost, port: ports.aws ?? 0, trust, roles: awsRoles(), quiet: opts.quiet });
    closers.push(() => aws.close());

    const databricks = {} as Record<SandboxEnvironment, string>;
    for (const env of ENVIRONMENTS) {
      const workspace = await startDatabricksWorkspace({
        host: opts.databricksHost ?? DATABRICKS_HOST_DEFAULT,
        port: ports[DATABRICKS_PORT_KEY[env]] ?? 0,
        name: env,
        trust: federationTrustOf(trust),
        quiet: opts.quiet,
      });
      closers.push(() => workspace.close());
      databricks[env] = workspace.url.replace(/\/$/, '');
    }

    const awsStsUrl = aws.url;
    return {
      issuer: idp.issuer,
      clientId: idp.clientId,
      users: DEMO_USERS.map((u) => ({ ...u, groups: [...u.groups] })),
      databricks,
      google: {
        stsUrl: google.stsUrl,
        iamCredentialsUrl: google.iamCredentialsUrl,
        spannerUrl: spanner.url,
        audience: (env: string) => (assertEnvironment(env), SANDBOX_WORKLOAD_IDENTITY_AUDIENCE),
        serviceAccount: serviceAccountFor,
      },
      aws: { stsUrl: awsStsUrl, roleArn: roleArnFor },
      environments: sandboxEnvironments({ databricks, googleSts: google.stsUrl, iamCredentials: google.iamCredentialsUrl, spanner: spanner.url, awsSts: awsStsUrl }),
      trust,
      admin: {
        async revokeUser(username: string) {
          if (!DEMO_USERS.some((u) => u.username === username)) throw new Error(`unknown sandbox user ${username}`);
          idp.revokeUser(username);
        },
        async failTokenEndpointOnce(fault?: TokenEndpointFault) {
          idp.failTokenEndpointOnce(fault);
        },
        async failTokenEndpoint(fault: TokenEndpointFault | undefined) {
          idp.failTokenEndpoint(fault);
        },
      },
      close: closeAll,
    };
  } catch (e) {
    await closeAll().catch(() => undefined);
    throw explainListenError(e);
  }
}

/** EADDRNOTAVAIL / EADDRINUSE from listen(): say which address and what to do. */
function explainListenError(e: unknown): unknown {
  const err = e as NodeJS.ErrnoException & { address?: string; port?: number };
  const where = err.address ? `${err.address}${err.port ? `:${err.port}` : ''}` : undefined;
  if (err.code === 'EADDRNOTAVAIL' && where)
    return new Error(
      `The sandbox cannot listen on ${where}: this machine has no such loopback address. Linux answers on all of 127.0.0.0/8; ` +
        `on macOS add it once with \`sudo ifconfig lo0 alias ${err.address} up\`.`,
      { cause: e },
    );
  if (err.code === 'EADDRINUSE' && where)
    return new Error(`The sandbox cannot listen on ${where}: the port is in use (is another sandbox or demo running?). Stop it, or choose other ports.`, { cause: e });
  return e;
}
