import { strict as assert } from 'node:assert';
import { forgetSecret, indexOfToken, looksLikeToken, redact, redactDeep, registerSecret } from '../../src/core/redact';
import { tokenFingerprint } from '../../src/core/fingerprint';

// Test fixtures, assembled so that no source line is itself token-shaped.
const b64url = (n: number, seed = 7) => {
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  let s = '';
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    s += abc[x % 64];
  }
  return s;
};
const hex = (n: number, seed = 3) => b64url(n, seed).replace(/[^0-9a-f]/gi, '').padEnd(n, 'a').toLowerCase().slice(0, n).replace(/[^0-9a-f]/g, 'b');
const jwt = ['eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ', 'eyJzdWIiOiJhbGljZSIsImV4cCI6MTcwMDAwMDAwMH0', b64url(43)].join('.');
const jwe = ['eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0', '', b64url(16, 1), b64url(40, 2), b64url(22, 3)].join('.');
const pemBody = `MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC${b64url(60, 9).replace(/[-_]/g, 'x')}`;
const pem = (kind: string, nl = '\n') => `-----BEGIN ${kind}-----${nl}${pemBody}${nl}${pemBody}${nl}-----END ${kind}-----`;
const awsSecret = `wJalrXUtnFEMI/K7MDENG/bPxRfiCY${b64url(10, 4).replace(/[-_]/g, 'Q')}`;
const sessionToken = `FwoGZXIvYXdzEBYaD${b64url(80, 5).replace(/[-_]/g, 'z')}`;
const opaque = `8xZ${b64url(29, 6)}`;

/** [what, text, the secret part that must not survive] */
const SECRETS: Array<[string, string, string]> = [
  ['a JWT', `token ${jwt} here`, jwt.split('.')[2]],
  ['a JWT in a bearer header', `Authorization: Bearer ${jwt}`, jwt.split('.')[1]],
  ['a JWE with an empty key part', `assertion=${jwe}`, jwe.split('.')[3]],
  ['a JWT glued to a dash', `PERMISSION_DENIED: -${jwt}`, jwt.split('.')[1]],
  ['a JWT at the end of a sentence', `the token was ${jwt}.`, jwt.split('.')[2]],
  ['a Databricks PAT', `dapi${hex(32)}`, hex(32)],
  ['a Databricks PAT with a suffix', `token dapi${hex(32, 5)}-2 used`, hex(32, 5)],
  ['a Databricks OAuth token', `DATABRICKS_TOKEN=dose${hex(40, 8)}`, hex(40, 8)],
  ['a Google access token', `ya29.a0AfH6SM${b64url(60, 10)}`, b64url(60, 10)],
  ['a Google refresh token', `refresh 1//0g${b64url(40, 11)}`, b64url(40, 11)],
  ['a Google API key', `key=AIza${b64url(35, 12)}`, b64url(35, 12)],
  ['a Google OAuth client secret', `GOCSPX-${b64url(28, 13)}`, b64url(28, 13)],
  ['a Google service-account private key (JSON)', `{"type":"service_account","private_key":"${pem('PRIVATE KEY', '\\n')}\\n","client_email":"ml@p.iam.gserviceaccount.com"}`, pemBody],
  ['a PEM RSA private key', pem('RSA PRIVATE KEY'), pemBody],
  ['a PEM EC private key', pem('EC PRIVATE KEY'), pemBody],
  ['an OpenSSH private key', pem('OPENSSH PRIVATE KEY'), pemBody],
  ['a PEM private key cut off', `-----BEGIN PRIVATE KEY-----\n${pemBody}`, pemBody],
  ['an AWS access key id (AKIA)', 'AKIAIOSFODNN7EXAMPLE', 'IOSFODNN7EXAMPLE'],
  ['an AWS access key id (ASIA)', 'id ASIAY34FZKBOKMUTVV7A in use', 'Y34FZKBOKMUTVV7A'],
  ['an AWS secret key, env form', `AWS_SECRET_ACCESS_KEY=${awsSecret}`, awsSecret],
  ['an AWS secret key, exported and quoted', `export AWS_SECRET_ACCESS_KEY="${awsSecret}"`, awsSecret],
  ['an AWS secret key, ini form', `[default]\naws_secret_access_key = ${awsSecret}\n`, awsSecret],
  ['an AWS session token, ini form', `aws_session_token=${sessionToken}`, sessionToken],
  ['an AWS secret key, XML', `<Credentials><SecretAccessKey>${awsSecret}</SecretAccessKey></Credentials>`, awsSecret],
  ['an AWS session token, XML', `<SessionToken>${sessionToken}</SessionToken>`, sessionToken],
  ['an AWS secret key, JSON', `{"AccessKeyId":"ASIA…","SecretAccessKey":"${awsSecret}"}`, awsSecret],
  ['an AWS security token header', `x-amz-security-token: ${sessionToken}`, sessionToken],
  ['an opaque refresh token in prose', `refresh_token: ${opaque}`, opaque],
  ['an opaque refresh token, form field', `grant_type=refresh_token&refresh_token=${opaque}&client_id=x`, opaque],
  ['an access token, JSON field', `{"access_token":"${opaque}","token_type":"Bearer"}`, opaque],
  ['an ID token hint in a URL', `https://idp/logout?id_token_hint=x&id_token=${opaque}`, opaque],
  ['a refresh token written as words', `refresh token: ${opaque}`, opaque],
  ['a bearer header', `Authorization: Bearer ${opaque}`, opaque],
  ['a basic authorization header', 'Authorization: Basic YWxpY2U6c3VwZXItc2VjcmV0LXB3', 'YWxpY2U6c3VwZXItc2VjcmV0LXB3'],
  ['basic auth in a URL', 'cloning https://alice:s3cr3t-Passw0rd@git.example.com/repo.git', 's3cr3t-Passw0rd'],
  ['a token as URL user info', `https://x-access-token:${opaque}@github.example.com/o/r`, opaque],
  ['a client secret, form field', `client_id=abc&client_secret=${opaque}`, opaque],
  ['a client secret, YAML', `client_secret: "${opaque}"`, opaque],
  ['a password, JSON field with spaces', '{"password": "correct horse battery staple"}', 'correct horse battery staple'],
  ['an authorization code in a redirect', `http://127.0.0.1:33333/callback?code=${b64url(43, 14)}&state=xyz`, b64url(43, 14)],
  ['a PKCE code verifier', `code_verifier=${b64url(43, 15)}`, b64url(43, 15)],
  ['a device code', `{"device_code":"${b64url(40, 16)}"}`, b64url(40, 16)],
  ['a GitHub token', `ghp_${b64url(36, 17).replace(/[-_]/g, 'k')}`, b64url(36, 17).replace(/[-_]/g, 'k')],
  ['an escaped JSON field inside JSON', `{"detail":"{\\"access_token\\":\\"${opaque}\\"}"}`, opaque],
  ['an env var ending in _TOKEN', `MY_SERVICE_TOKEN=${opaque}`, opaque],
];

/** Text that must come out exactly as it went in, and not look like a token. */
const INNOCENT: Array<[string, string]> = [
  ['a token fingerprint', `issued, fingerprint ${tokenFingerprint('anything')}`],
  ['a full sha256 digest', `sha256:${hex(64, 21)}`],
  ['a UUID', 'run 123e4567-e89b-12d3-a456-426614174000 started'],
  ['error_code', 'error_code=invalid_grant error_code: E1234567890123456'],
  ['code= with short words in a reason', 'INC-4711 "code=abc123" approved; code=ok'],
  ['a git SHA', 'commit 3f786850e387550fdab836ed7e6dc881de23001b on main'],
  ['base64 of short text', 'payload aGVsbG8gd29ybGQ= decoded'],
  ['a sentence with token', 'The token expired; sign in again to get a new token.'],
  ['a sentence with basic', 'Use the basic built-in checks. Basic internationalization support is available.'],
  ['a sentence with bearer', 'the bearer of this message'],
  ['an IAM role ARN', 'arn:aws:iam::123456789012:role/ml-staging'],
  ['an assumed-role ARN', 'arn:aws:sts::123456789012:assumed-role/ml-staging/alice@example.com'],
  ['a workload identity audience', '//iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/ml/providers/okta'],
  ['a URL without credentials', 'https://dbc-1234.cloud.databricks.com/api/2.1/jobs/run-now?job_id=42&run=7'],
  ['a loopback URL with a port', 'http://127.0.0.1:8080/callback?state=abc'],
  ['an e-mail address', 'signed in as alice@example.com'],
  ['a service account', 'impersonating ml-runner@ml-prod.iam.gserviceaccount.com'],
  ['env names without values', 'Set AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN in the terminal.'],
  ['max_tokens and tokenFingerprint', '{"max_tokens":4096,"tokenFingerprint":"sha256:0123456789ab"}'],
  ['an ML.PREDICT query', "SELECT * FROM ML.PREDICT(MODEL churn_model, TABLE customers) WHERE country = 'DE' LIMIT 5"],
  ['a short refresh_token state', 'refresh_token: expired'],
  ['an access-log hash member', `"prev":"${'0'.repeat(64)}","hash":"${hex(64, 22)}"`],
];

describe('redact: secret shapes', () => {
  it(`has at least 30 shapes and 10 look-alikes`, () => {
    assert.ok(SECRETS.length >= 30 && INNOCENT.length >= 10);
  });
  for (const [what, text, secret] of SECRETS) {
    it(`removes ${what}`, () => {
      assert.ok(text.includes(secret), 'fixture contains its secret');
      const out = redact(text);
      assert.ok(!out.includes(secret), out);
      assert.match(out, /redacted/);
      assert.equal(redact(out), out, 'redacting twice changes nothing');
    });
  }
  for (const [what, text] of INNOCENT) {
    it(`keeps ${what}`, () => {
      assert.equal(redact(text), text);
      assert.equal(looksLikeToken(text), false);
    });
  }
  it('names where the first token-shaped text starts', () => {
    const text = `ok so far, then ${jwt}`;
    assert.equal(indexOfToken(text), text.indexOf('eyJ'));
    assert.equal(indexOfToken('nothing here'), -1);
  });
});

describe('redact: live secrets', () => {
  const live = 'opaquelivesecret';
  afterEach(() => {
    forgetSecret(live);
    forgetSecret(live);
    forgetSecret(`${live}-longer`);
  });
  it('replaces a registered value wherever it appears, whatever its shape', () => {
    assert.equal(redact(`got ${live} back`), `got ${live} back`);
    registerSecret(live);
    assert.equal(redact(`got ${live} back`), 'got [redacted] back');
    assert.ok(looksLikeToken(`x${live}x`));
    forgetSecret(live);
    assert.equal(redact(`got ${live} back`), `got ${live} back`);
  });
  it('replaces the longest registered value first', () => {
    registerSecret(live);
    registerSecret(`${live}-longer`);
    assert.equal(redact(`a ${live}-longer b`), 'a [redacted] b');
  });
  it('counts registrations: one forget per register', () => {
    registerSecret(live);
    registerSecret(live);
    forgetSecret(live);
    assert.equal(redact(live), '[redacted]');
  });
  it('ignores values under 8 characters', () => {
    registerSecret('abc1234');
    assert.equal(redact('code abc1234 ok'), 'code abc1234 ok');
    forgetSecret('abc1234');
  });
  it('escapes regular-expression characters in a value', () => {
    const odd = 'a+b*c?(d)[e]{f}|g^h$i.j\\k';
    registerSecret(odd);
    assert.equal(redact(`x ${odd} y`), 'x [redacted] y');
    forgetSecret(odd);
  });
});

describe('redactDeep', () => {
  it('redacts strings and secret-named fields in a copy, leaving the rest', () => {
    const input = { reason: 'INC-4711 "code=abc123" approved', nested: [{ refreshToken: 'short-ish', note: `Bearer ${opaque}` }], n: 3, ok: true, none: null };
    const out = redactDeep(input);
    assert.deepEqual(out, { reason: 'INC-4711 "code=abc123" approved', nested: [{ refreshToken: '[redacted]', note: 'Bearer [redacted]' }], n: 3, ok: true, none: null });
    assert.equal(input.nested[0].refreshToken, 'short-ish', 'the input is not changed');
  });
  it('is cycle-safe and depth-bounded', () => {
    const a: Record<string, unknown> = { name: 'a' };
    a.self = a;
    const shared = { x: 1 };
    let deep: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 100; i++) deep = { d: deep };
    const out = redactDeep({ a, left: shared, right: shared, deep }) as Record<string, unknown>;
    assert.equal((out.a as Record<string, unknown>).self, '[circular]');
    assert.deepEqual(out.right, { x: 1 }, 'a value seen twice is not a cycle');
    assert.match(JSON.stringify(out.deep), /\[too deep\]/);
  });
  it('converts values with toJSON and keeps "__proto__" as data', () => {
    const out = redactDeep(JSON.parse('{"__proto__":{"polluted":true},"at":"x"}') as Record<string, unknown>) as Record<string, unknown>;
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.deepEqual(Object.keys(out), ['__proto__', 'at']);
    assert.equal(redactDeep({ d: new Date(0) }).d as unknown, '1970-01-01T00:00:00.000Z');
  });
});
