/**
 * Runs in its own process so the benchmark's client CPU time is the client's alone: an issuer
 * and the Databricks, Google and AWS emulators on loopback, trusting it. Prints one JSON line
 * (URLs and one subject token per audience), then serves until stdin closes.
 */
import { startAwsStsEmulator } from '../../sandbox/aws/AwsStsEmulator';
import { startDatabricksWorkspace } from '../../sandbox/databricks/DatabricksWorkspace';
import { startGoogleEmulator } from '../../sandbox/google/GoogleEmulator';
import { startTestIssuer } from '../../sandbox/TestIssuer';
import type { IdentitySession } from '../../src/core/auth/IdentitySession';

export const BENCH_AUDIENCE = 'mlspanner-bench';
export const BENCH_WORKLOAD_AUDIENCE = '//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/bench/providers/bench';
export const BENCH_ROLE_ARN = 'arn:aws:iam::123456789012:role/ml-bench';

export interface ExchangeServers {
  issuer: string;
  databricks: string;
  googleSts: string;
  googleIam: string;
  aws: string;
  /** A subject token (ID-token shaped, audience BENCH_AUDIENCE), valid for an hour. */
  subjectToken: string;
}

async function main() {
  const issuer = await startTestIssuer();
  const trust = { issuer: issuer.issuer, audience: BENCH_AUDIENCE, subjectClaim: 'sub', groupsClaim: 'groups' };
  const databricks = await startDatabricksWorkspace({
    host: '127.0.0.1',
    port: 0,
    name: 'bench',
    quiet: true,
    trust: { issuer: issuer.issuer, audiences: [BENCH_AUDIENCE], subjectClaim: 'sub' },
  });
  const google = await startGoogleEmulator({
    host: '127.0.0.1',
    port: 0,
    quiet: true,
    providers: [{ audience: BENCH_WORKLOAD_AUDIENCE, issuer: issuer.issuer, allowedAudiences: [BENCH_AUDIENCE], subjectClaim: 'sub', groupsClaim: 'groups' }],
    serviceAccounts: {},
  });
  const aws = await startAwsStsEmulator({ host: '127.0.0.1', port: 0, quiet: true, trust, roles: [{ roleArn: BENCH_ROLE_ARN }] });
  const out: ExchangeServers = {
    issuer: issuer.issuer,
    databricks: databricks.url,
    googleSts: google.stsUrl,
    googleIam: google.iamCredentialsUrl,
    aws: aws.url,
    subjectToken: await issuer.sign({ aud: BENCH_AUDIENCE }),
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
  const stop = async () => {
    await Promise.allSettled([databricks.close(), google.close(), aws.close(), issuer.close()]);
    process.exit(0);
  };
  process.stdin.on('end', () => void stop());
  process.stdin.on('close', () => void stop());
  process.stdin.resume();
}

if (require.main === module)
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  });

/** A signed-in member of ml-dev whose ID and access tokens are the servers' subject token, valid for an hour. */
export function benchSession(servers: Pick<ExchangeServers, 'issuer' | 'subjectToken'>): IdentitySession {
  const now = Date.now();
  return {
    issuer: servers.issuer,
    subject: 'ada',
    name: 'Ada',
    email: 'ada@example.com',
    groups: ['ml-dev'],
    claims: { sub: 'ada', groups: ['ml-dev'] },
    idToken: servers.subjectToken,
    idTokenExpiresAt: now + 3_600_000,
    accessToken: servers.subjectToken,
    accessTokenExpiresAt: now + 3_600_000,
    scopes: ['openid'],
  };
}
