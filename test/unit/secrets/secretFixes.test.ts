import * as assert from 'node:assert/strict';
import { environmentCredentialFix, secretScopeFix, secretValue, suggestedSecretKey, type TextEdit } from '../../../src/core/secrets/secretFixes';
import { scanSecrets } from '../../../src/core/secrets/scanSecrets';
import type { SecretLanguage } from '../../../src/core/secrets/secretLanguage';
import type { SecretKind } from '../../../src/core/secrets/SecretKind';

// Fake values, random, made for these tests.
const PAT = 'dapi5c0e9b27a4f81d36e0b7c2a94d1f58e3';
const AKIA = 'AKIAQ3VZ7LK2M5XP4RWD';
const AWS_SECRET = 'u7Rk2Qx9Lm4Vb8Nc1Zt6Hy3Pw0Js5Gd2Fa7Ke9Ti';
const YA29 = 'ya29.a0AfB_byC7kq2Lm9Xv4Rt8Wz1Np5Hs3Jd6Gf0Qa';

function apply(text: string, edits: TextEdit[]): string {
  let out = text;
  for (const e of [...edits].sort((a, b) => b.start - a.start || b.end - a.end)) out = out.slice(0, e.start) + e.newText + out.slice(e.end);
  return out;
}

function fixed(text: string, language: SecretLanguage, kind?: SecretKind): string | undefined {
  const f = scanSecrets(text, language).find((x) => !kind || x.kind === kind);
  assert.ok(f, `no finding in ${JSON.stringify(text)}`);
  const fix = environmentCredentialFix(text, language, f);
  return fix && apply(text, fix.edits);
}

function scoped(text: string, language: SecretLanguage, scope = 'ml', key = 'databricks-token'): string | undefined {
  const f = scanSecrets(text, language)[0];
  assert.ok(f);
  const fix = secretScopeFix(text, language, f, scope, key);
  return fix && apply(text, fix.edits);
}

describe('secret quick fixes: use the environment\'s credentials', () => {
  it('Python: a token assignment reads DATABRICKS_TOKEN and imports os', () => {
    assert.equal(fixed(`from databricks.sdk import WorkspaceClient\ntoken = "${PAT}"\n`, 'python'), 'import os\nfrom databricks.sdk import WorkspaceClient\ntoken = os.environ["DATABRICKS_TOKEN"]\n');
  });

  it('Python: an existing import os is kept, not repeated', () => {
    assert.equal(fixed(`import os\ntoken = "${PAT}"\n`, 'python'), 'import os\ntoken = os.environ["DATABRICKS_TOKEN"]\n');
  });

  it('Python: WorkspaceClient(token=…) loses its token argument', () => {
    assert.equal(fixed(`w = WorkspaceClient(host="https://h.cloud.databricks.com", token="${PAT}")\n`, 'python'), 'w = WorkspaceClient(host="https://h.cloud.databricks.com")\n');
    assert.equal(fixed(`w = WorkspaceClient(token="${PAT}")\n`, 'python'), 'w = WorkspaceClient()\n');
  });

  it('Python: boto3.client(…) loses both keys, one argument per line kept', () => {
    const text = `s3 = boto3.client(\n    "s3",\n    aws_access_key_id="${AKIA}",\n    aws_secret_access_key="${AWS_SECRET}",\n    region_name="eu-west-1",\n)\n`;
    const expected = 's3 = boto3.client(\n    "s3",\n    region_name="eu-west-1",\n)\n';
    assert.equal(fixed(text, 'python', 'awsAccessKeyId'), expected);
    assert.equal(fixed(text, 'python', 'awsSecretAccessKey'), expected);
  });

  it('Python: AWS key constants read from the default credential chain', () => {
    const text = `import boto3\nACCESS_KEY = "${AKIA}"\nSECRET_KEY = "${AWS_SECRET}"\n`;
    assert.equal(fixed(text, 'python', 'awsSecretAccessKey'), `import boto3\nACCESS_KEY = "${AKIA}"\nSECRET_KEY = boto3.Session().get_credentials().secret_key\n`);
  });

  it('Python: Credentials("ya29…") becomes google.auth.default()', () => {
    assert.equal(fixed(`creds = google.oauth2.credentials.Credentials("${YA29}")\n`, 'python'), 'import google.auth\ncreds = google.auth.default()[0]\n');
  });

  it('Python: a service-account key dict passed to from_service_account_info becomes google.auth.default()', () => {
    const body = 'MIIE' + 'q7Lk2Xv9Rt4Wz8Np1Hs5Jd3Gf6Qa0Ub'.repeat(4);
    const text = `import google.auth\ninfo = {\n    "type": "service_account",\n    "private_key": "-----BEGIN PRIVATE KEY-----\\n${body}\\n-----END PRIVATE KEY-----\\n",\n}\ncreds = service_account.Credentials.from_service_account_info(info, scopes=SCOPES)\n`;
    assert.equal(fixed(text, 'python'), 'import google.auth\ncreds = google.auth.default(scopes=SCOPES)[0]\n');
  });

  it('Python: "Bearer <token>" keeps its scheme', () => {
    assert.equal(fixed(`headers = {"Authorization": "Bearer Xk9mQ2vL7pR4tW8zN1bH5jD3"}\n`, 'python'), 'import os\nheaders = {"Authorization": "Bearer " + os.environ["API_TOKEN"]}\n');
  });

  it('Python: a password inside a URL becomes a concatenation', () => {
    assert.equal(fixed('url = "postgresql://etl:Qz7kP2xLm9vR@db/dw"\n', 'python'), 'import os\nurl = "postgresql://etl:" + os.environ["PASSWORD"] + "@db/dw"\n');
  });

  it('Python: os.environ["DATABRICKS_TOKEN"] = "dapi…" is dropped', () => {
    assert.equal(fixed(`import os\nos.environ["DATABRICKS_TOKEN"] = "${PAT}"\nw = WorkspaceClient()\n`, 'python'), 'import os\nw = WorkspaceClient()\n');
  });

  it('Python: the import goes below a Databricks notebook header and a docstring', () => {
    assert.equal(fixed(`# Databricks notebook source\n"""Doc."""\ntoken = "${PAT}"\n`, 'python'), `# Databricks notebook source\n"""Doc."""\nimport os\ntoken = os.environ["DATABRICKS_TOKEN"]\n`);
  });

  it('Scala: sys.env, R: Sys.getenv', () => {
    assert.equal(fixed(`val token = "${PAT}"\n`, 'scala'), 'val token = sys.env("DATABRICKS_TOKEN")\n');
    assert.equal(fixed(`token <- "${PAT}"\n`, 'r'), 'token <- Sys.getenv("DATABRICKS_TOKEN")\n');
  });

  it('R: Sys.setenv(AWS keys) is removed: the environment provides them', () => {
    assert.equal(fixed(`library(aws.s3)\nSys.setenv(AWS_ACCESS_KEY_ID = "${AKIA}",\n           AWS_SECRET_ACCESS_KEY = "${AWS_SECRET}")\nx <- 1\n`, 'r'), 'library(aws.s3)\nx <- 1\n');
  });

  it('YAML: ${VAR}; .env: the line goes when it sets the variable itself', () => {
    assert.equal(fixed(`env:\n  MLFLOW_TRACKING_TOKEN: ${PAT}\n`, 'yaml'), 'env:\n  MLFLOW_TRACKING_TOKEN: ${DATABRICKS_TOKEN}\n');
    assert.equal(fixed(`DATABRICKS_HOST=https://h\nDATABRICKS_TOKEN=${PAT}\nX=1\n`, 'dotenv'), 'DATABRICKS_HOST=https://h\nX=1\n');
  });

  it('SQL and JSON: no environment fix (a secret scope is the fix there)', () => {
    assert.equal(fixed(`CREATE CONNECTION c TYPE mysql OPTIONS (user 'u', password 'Qz7#kP2x!Lm9');\n`, 'sql'), undefined);
    assert.equal(fixed(`{"token": "${PAT}"}\n`, 'json'), undefined);
  });
});

describe('secret quick fixes: move to a Databricks secret scope', () => {
  it('replaces the literal with the language\'s secret reference', () => {
    assert.equal(scoped(`token = "${PAT}"\n`, 'python'), 'token = dbutils.secrets.get(scope="ml", key="databricks-token")\n');
    assert.equal(scoped(`w = WorkspaceClient(token='${PAT}')\n`, 'python'), 'w = WorkspaceClient(token=dbutils.secrets.get(scope="ml", key="databricks-token"))\n');
    assert.equal(scoped(`val t = "${PAT}"\n`, 'scala'), 'val t = dbutils.secrets.get(scope = "ml", key = "databricks-token")\n');
    assert.equal(scoped(`t <- "${PAT}"\n`, 'r'), 't <- dbutils.secrets.get(scope = "ml", key = "databricks-token")\n');
    assert.equal(scoped(`OPTIONS (user 'u', password 'Qz7#kP2x!Lm9')`, 'sql', 'crm', 'password'), "OPTIONS (user 'u', password secret('crm', 'password'))");
    assert.equal(scoped(`spark_env_vars:\n  TOKEN: ${PAT}\n`, 'yaml'), 'spark_env_vars:\n  TOKEN: "{{secrets/ml/databricks-token}}"\n');
    assert.equal(scoped(`{"spark_env_vars": {"TOKEN": "${PAT}"}}`, 'json'), '{"spark_env_vars": {"TOKEN": "{{secrets/ml/databricks-token}}"}}');
  });

  it('keeps a Bearer prefix, refuses invalid scope or key names', () => {
    assert.equal(scoped(`h = {"Authorization": "Bearer ${PAT}"}\n`, 'python'), 'h = {"Authorization": "Bearer " + dbutils.secrets.get(scope="ml", key="databricks-token")}\n');
    const f = scanSecrets(`token = "${PAT}"`, 'python')[0];
    assert.equal(secretScopeFix(`token = "${PAT}"`, 'python', f, 'bad scope', 'k'), undefined);
    assert.equal(secretScopeFix(`token = "${PAT}"`, 'python', f, 'ml', 'k/../x'), undefined);
  });

  it('stores the value the program sees: escapes decoded, YAML indentation removed', () => {
    const body = 'MIIE' + 'q7Lk2Xv9Rt4Wz8Np1Hs5Jd3Gf6Qa0Ub'.repeat(3);
    const py = `key = "-----BEGIN PRIVATE KEY-----\\n${body}\\n-----END PRIVATE KEY-----"`;
    const f = scanSecrets(py, 'python')[0];
    assert.equal(secretValue(py, 'python', f), `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----`);
    const yaml = `tls:\n  key: |\n    -----BEGIN RSA PRIVATE KEY-----\n    ${body}\n    ${body}\n    -----END RSA PRIVATE KEY-----\n`;
    const y = scanSecrets(yaml, 'yaml')[0];
    assert.equal(secretValue(yaml, 'yaml', y), `-----BEGIN RSA PRIVATE KEY-----\n${body}\n${body}\n-----END RSA PRIVATE KEY-----`);
    const sql = `OPTIONS (password 'Qz7''kP2x!Lm9')`;
    assert.equal(secretValue(sql, 'sql', scanSecrets(sql, 'sql')[0]), "Qz7'kP2x!Lm9");
  });

  it('suggests key names from the kind or the variable', () => {
    assert.equal(suggestedSecretKey({ kind: 'databricksPat', name: 'x' }), 'databricks-token');
    assert.equal(suggestedSecretKey({ kind: 'highEntropySecret', name: 'clientSecret' }), 'client-secret');
    assert.equal(suggestedSecretKey({ kind: 'highEntropySecret' }), 'secret');
  });
});
