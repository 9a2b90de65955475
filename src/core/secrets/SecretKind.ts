/**
 * What the secret scanner finds: one spec per kind (code, label, severity, what to do), one
 * registry that the detector, the diagnostics, the quick fixes and the accuracy bench iterate.
 */

export type SecretKind =
  | 'databricksPat'
  | 'awsAccessKeyId'
  | 'awsSecretAccessKey'
  | 'googleServiceAccountKey'
  | 'googleAccessToken'
  | 'jwt'
  | 'privateKey'
  | 'highEntropySecret';

export interface SecretKindSpec {
  kind: SecretKind;
  /** The diagnostic code, stable across versions: `mlspanner.secret.<kind>`. */
  code: string;
  /** What it is, for a message and a summary ("Databricks personal access token"). */
  label: string;
  /** Shown before the value: never the value itself. */
  prefix: string;
  /** 'error': a credential of a known kind; 'warning': a heuristic (high-entropy assignment). */
  severity: 'error' | 'warning';
  /** What to do about it, one sentence. */
  action: string;
  /** The environment variable that the language's default credential chain reads, if one. */
  envVar?: string;
}

export const SECRET_KINDS: Record<SecretKind, SecretKindSpec> = {
  databricksPat: {
    kind: 'databricksPat',
    code: 'mlspanner.secret.databricksPat',
    label: 'Databricks personal access token',
    prefix: 'dapi…',
    severity: 'error',
    action: 'Revoke it in the workspace (Settings → Developer → Access tokens), then let WorkspaceClient() pick up your environment\'s short-lived token, or read it from a secret scope.',
    envVar: 'DATABRICKS_TOKEN',
  },
  awsAccessKeyId: {
    kind: 'awsAccessKeyId',
    code: 'mlspanner.secret.awsAccessKeyId',
    label: 'AWS access key id (with its secret access key nearby)',
    prefix: 'AKIA…',
    severity: 'error',
    action: 'Deactivate the key pair in IAM, then let boto3.Session() find credentials (your environment\'s AWS session, a profile or a role).',
    envVar: 'AWS_ACCESS_KEY_ID',
  },
  awsSecretAccessKey: {
    kind: 'awsSecretAccessKey',
    code: 'mlspanner.secret.awsSecretAccessKey',
    label: 'AWS secret access key',
    prefix: '',
    severity: 'error',
    action: 'Deactivate the key pair in IAM, then let boto3.Session() find credentials (your environment\'s AWS session, a profile or a role).',
    envVar: 'AWS_SECRET_ACCESS_KEY',
  },
  googleServiceAccountKey: {
    kind: 'googleServiceAccountKey',
    code: 'mlspanner.secret.googleServiceAccountKey',
    label: 'Google service-account private key',
    prefix: '-----BEGIN PRIVATE KEY-----…',
    severity: 'error',
    action: 'Delete the key (IAM & Admin → Service accounts → Keys), then use google.auth.default() with workload identity federation.',
  },
  googleAccessToken: {
    kind: 'googleAccessToken',
    code: 'mlspanner.secret.googleAccessToken',
    label: 'Google OAuth access token',
    prefix: 'ya29.…',
    severity: 'error',
    action: 'It works for anyone until it expires; use google.auth.default() to get one at run time.',
    envVar: 'CLOUDSDK_AUTH_ACCESS_TOKEN',
  },
  jwt: {
    kind: 'jwt',
    code: 'mlspanner.secret.jwt',
    label: 'JSON Web Token',
    prefix: 'eyJ…',
    severity: 'error',
    action: 'A bearer token works for anyone until it expires; get one at run time instead.',
  },
  privateKey: {
    kind: 'privateKey',
    code: 'mlspanner.secret.privateKey',
    label: 'private key (PEM)',
    prefix: '-----BEGIN … PRIVATE KEY-----',
    severity: 'error',
    action: 'Replace the key pair (a committed key is compromised) and load the new key from a secret scope.',
  },
  highEntropySecret: {
    kind: 'highEntropySecret',
    code: 'mlspanner.secret.highEntropy',
    label: 'secret',
    prefix: '',
    severity: 'warning',
    action: 'Move it to a secret scope or an environment variable, and rotate it if this file was ever shared.',
  },
};

export const ALL_SECRET_KINDS = Object.keys(SECRET_KINDS) as SecretKind[];

/** The kind of a diagnostic code, or undefined when the code is not one of ours. */
export function kindOfCode(code: string): SecretKind | undefined {
  return ALL_SECRET_KINDS.find((k) => SECRET_KINDS[k].code === code);
}

/** The message of a finding: what it is and what to do, never the value. */
export function secretMessage(kind: SecretKind, name?: string): string {
  const spec = SECRET_KINDS[kind];
  const what = kind === 'highEntropySecret' ? `Hard-coded secret${name ? ` in "${name}"` : ''} (a high-entropy string)` : `Hard-coded ${spec.label}${spec.prefix ? ` (${spec.prefix})` : ''}`;
  return `${what}. ${spec.action}`;
}
