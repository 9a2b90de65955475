import * as assert from 'node:assert/strict';
import { scanFile } from '../../../src/core/secrets/scanFile';
import { scanNotebookJson } from '../../../src/core/secrets/scanNotebookJson';
import { isSecretName, scanSecrets } from '../../../src/core/secrets/scanSecrets';
import { secretLanguageOf } from '../../../src/core/secrets/secretLanguage';
import type { SecretLanguage } from '../../../src/core/secrets/secretLanguage';
import type { SecretKind } from '../../../src/core/secrets/SecretKind';

// Fake values, random, made for these tests.
const PAT = 'dapi5c0e9b27a4f81d36e0b7c2a94d1f58e3';
const AKIA = 'AKIAQ3VZ7LK2M5XP4RWD';
const AWS_SECRET = 'u7Rk2Qx9Lm4Vb8Nc1Zt6Hy3Pw0Js5Gd2Fa7Ke9Ti';
const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6MTc5MDAwMDAwMH0.' + 'Qm9Xk2Lr7Vt4Wz8Np1Hs5Jd3Gf6Qa0Ub_-'.repeat(3);
const PEM_BODY = 'MIIE' + 'q7Lk2Xv9Rt4Wz8Np1Hs5Jd3Gf6Qa0Ub'.repeat(3);

function kinds(text: string, language: SecretLanguage): SecretKind[] {
  return scanSecrets(text, language).map((f) => f.kind);
}

describe('secret scanner', () => {
  const found: [string, SecretLanguage, string, SecretKind[]][] = [
    ['a Databricks PAT', 'python', `token = "${PAT}"`, ['databricksPat']],
    ['a Databricks PAT with a -N suffix', 'python', `t = "${PAT}-3"`, ['databricksPat']],
    ['an AWS key pair', 'python', `k = "${AKIA}"\ns = "${AWS_SECRET}"`, ['awsAccessKeyId', 'awsSecretAccessKey']],
    ['an AWS secret by its name alone', 'dotenv', `AWS_SECRET_ACCESS_KEY=${AWS_SECRET}`, ['awsSecretAccessKey']],
    ['a Google access token', 'scala', 'val t = "ya29.a0AfB_byC7kq2Lm9Xv4Rt8Wz1Np5Hs3Jd6Gf0Qa"', ['googleAccessToken']],
    ['a JWT', 'json', `{"id_token": "${JWT}"}`, ['jwt']],
    ['a PEM key in a triple-quoted string', 'python', `k = """-----BEGIN PRIVATE KEY-----\n${PEM_BODY}\n-----END PRIVATE KEY-----"""`, ['privateKey']],
    ['a service-account key', 'json', `{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\n${PEM_BODY}\\n-----END PRIVATE KEY-----\\n"}`, ['googleServiceAccountKey']],
    ['a password in SQL', 'sql', "CREATE USER etl IDENTIFIED BY 'Qz7#kP2x!Lm9';", ['highEntropySecret']],
    ['an R assignment', 'r', 'api_secret <- "Xk9mQ2vL7pR4tW8zN1bH5jD3"', ['highEntropySecret']],
    ['a Scala Map entry', 'scala', 'Map("password" -> "Xk9mQ2vL7pR4tW8z")', ['highEntropySecret']],
    ['an unquoted YAML value', 'yaml', 'auth:\n  client_secret: Xk9mQ2vL7pR4tW8zN1bH5jD3 # rotate', ['highEntropySecret']],
    ['a token in a comment', 'python', `# use ${PAT} for now`, ['databricksPat']],
    ['a password in a database URL', 'python', 'engine = create_engine("postgresql://etl:Qz7kP2xLm9vR@db.corp.internal/dw")', ['highEntropySecret']],
    ['a connection string\'s AccountKey', 'yaml', 'conn: DefaultEndpointsProtocol=https;AccountName=a;AccountKey=Xk9mQ2vL7pR4tW8zN1bH5jD3Xk9mQ2vL7pR4tW8z==;EndpointSuffix=core.windows.net', ['highEntropySecret']],
  ];
  for (const [what, lang, text, expected] of found) it(`finds ${what}`, () => assert.deepEqual(kinds(text, lang), expected));

  const quiet: [string, SecretLanguage, string][] = [
    ['the AWS documentation keys', 'python', 'k = "AKIAIOSFODNN7EXAMPLE"\ns = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"'],
    ['a documentation PAT', 'python', 'token = "dapi1234567890abcdef1234567890abcdef"'],
    ['jwt.io\'s example', 'python', 't = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"'],
    ['placeholders', 'python', 'token = "<your-token>"\napi_key = "xxx"\npassword = "changeme"\nsecret = "${SECRET}"\nclient_secret = "********"'],
    ['environment and secret-scope reads', 'python', 'token = os.environ["DATABRICKS_TOKEN"]\nsecret = dbutils.secrets.get(scope="a", key="b")'],
    ['hashes and git SHAs under their names', 'python', 'commit_sha = "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"\ntoken_hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"'],
    ['UUIDs', 'python', 'token = "3f2b8c1e-7a4d-4e9b-8c2f-1d5e6a7b8c9d"'],
    ['base64 images', 'python', `auth_icon = "data:image/png;base64,iVBORw0KGgo${'AAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk'.repeat(4)}"`],
    ['a PEM header without a key', 'python', 'if text.startswith("-----BEGIN PRIVATE KEY-----"): pass'],
    ['names about secrets, not secrets', 'python', 'token_url = "https://idp/token"\nsecret_scope = "ml-prod-Xk9mQ2vL7"\nmax_tokens = 4096\nauth_type = "oauth-m2m"'],
    ['templates', 'python', 'headers = {"Authorization": f"Bearer {token}"}\nauth = "Bearer {}".format(t)'],
    ['fixtures marked fake', 'python', `FAKE_TOKEN = "${PAT}"\ndummy_password = "Qz7#kP2x!Lm9"`],
    ['a line allowed by a comment', 'python', `token = "${PAT}"  # pragma: allowlist secret`],
    ['Databricks {{secrets/…}} references', 'json', '{"spark_env_vars": {"TOKEN": "{{secrets/ml/token}}"}}'],
    ['a GitHub Actions secret', 'yaml', 'env:\n  DATABRICKS_TOKEN: ${{ secrets.DATABRICKS_TOKEN }}'],
    ['the .env of the extension\'s own local credential endpoints', 'dotenv', '# ML Spanner Access: local credential endpoints for "dev". Valid while VS Code runs; do not commit.\nAWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:41234/abc/aws\nAWS_CONTAINER_AUTHORIZATION_TOKEN=Xk9mQ2vL7pR4tW8zN1bH5jD3Xk9mQ2vL\n'],
    ['URLs with templated or placeholder passwords', 'python', 'a = f"postgresql://u:{pw}@h/db"\nb = "postgresql://u:<password>@h/db"\nc = "https://user:changeme@h"'],
  ];
  for (const [what, lang, text] of quiet) it(`stays quiet on ${what}`, () => assert.deepEqual(kinds(text, lang), []));

  it('gives the secret\'s range, its literal with quotes, a stable code and a message without the value', () => {
    const text = `w = WorkspaceClient(host=h, token="${PAT}")`;
    const [f] = scanSecrets(text, 'python');
    assert.equal(text.slice(f.range.start, f.range.end), PAT);
    assert.equal(text.slice(f.literal!.start, f.literal!.end), `"${PAT}"`);
    assert.equal(f.code, 'mlspanner.secret.databricksPat');
    assert.equal(f.name, 'token');
    assert.ok(!f.message.includes(PAT.slice(4)), 'the message never carries the value');
    assert.match(f.message, /Databricks personal access token.*Revoke/);
  });

  it('links the halves of an AWS key pair', () => {
    const text = `k = "${AKIA}"\ns = "${AWS_SECRET}"`;
    const [id, secret] = scanSecrets(text, 'python');
    assert.deepEqual(id.related, [secret.range]);
    assert.deepEqual(secret.related, [id.range]);
  });

  it('maps notebook findings back to the raw .ipynb JSON, escapes included', () => {
    const nb = JSON.stringify({ cells: [{ cell_type: 'code', source: ['import os\n', `w = WorkspaceClient(token="${PAT}")\n`], outputs: [] }], metadata: {} }, null, 1);
    const [f] = scanNotebookJson(nb);
    assert.equal(f.kind, 'databricksPat');
    assert.equal(nb.slice(f.range.start, f.range.end), PAT);
    assert.equal(nb.slice(f.literal!.start, f.literal!.end), `\\"${PAT}\\"`);
  });

  it('scans %sql cells of a Python notebook as SQL and outputs for shaped tokens', () => {
    const nb = JSON.stringify({
      cells: [
        { cell_type: 'code', source: ["%sql\n", "CREATE USER etl IDENTIFIED BY 'Qz7#kP2x!Lm9'"], outputs: [{ output_type: 'stream', name: 'stdout', text: [`token ${PAT}\n`] }] },
      ],
      metadata: { kernelspec: { language: 'python' } },
    });
    assert.deepEqual(scanNotebookJson(nb).map((f) => f.kind), ['highEntropySecret', 'databricksPat']);
  });

  it('falls back to plain JSON for a notebook that does not parse', () => {
    assert.deepEqual(scanNotebookJson(`{"cells": [ {"source": "token = \\"${PAT}\\"" `).map((f) => f.kind), ['databricksPat']);
  });

  it('knows which files it scans', () => {
    assert.equal(secretLanguageOf('a/b/.env'), 'dotenv');
    assert.equal(secretLanguageOf('a/.env.local'), 'dotenv');
    assert.equal(secretLanguageOf('nb.ipynb', 'json'), 'ipynb');
    assert.equal(secretLanguageOf('nb.ipynb', 'python'), 'python'); // a notebook cell
    assert.equal(secretLanguageOf('x.R'), 'r');
    assert.equal(secretLanguageOf('x.txt'), undefined);
    assert.equal(scanFile('x.txt', PAT), undefined);
    assert.equal(secretLanguageOf('web/package-lock.json', 'json'), undefined, 'lock files are generated');
    assert.equal(secretLanguageOf('Pipfile.lock'), undefined);
  });

  it('tells secret names from names about secrets', () => {
    for (const n of ['token', 'DATABRICKS_TOKEN', 'api_key', 'apiKey', 'client_secret', 'Authorization', 'aws_secret_access_key', 'fs.azure.account.key.acct.dfs.core.windows.net', 'db_password', 'passwd'])
      assert.ok(isSecretName(n), n);
    for (const n of ['token_url', 'secret_scope', 'max_tokens', 'tokenizer', 'auth_type', 'author', 'password_hash', 'api_key_name', 'key', 'private_key_id'])
      assert.ok(!isSecretName(n), n);
  });
});
