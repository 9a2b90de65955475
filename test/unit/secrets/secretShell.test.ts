import * as assert from 'node:assert/strict';
import type { SecretsApi, SecretMetadata, SecretScope } from '../../../src/core/databricks/SecretsClient';
import { ServiceError } from '../../../src/core/http/HttpClient';
import { applyEdit, installFakeVscode, openDocument, resetFake, state, Uri, type Diagnostic, type FakeTextDocument, type WorkspaceEdit } from './fakeVscode';

// Fake values, random, made for these tests.
const PAT = 'dapi5c0e9b27a4f81d36e0b7c2a94d1f58e3';
const AKIA = 'AKIAQ3VZ7LK2M5XP4RWD';
const AWS_SECRET = 'u7Rk2Qx9Lm4Vb8Nc1Zt6Hy3Pw0Js5Gd2Fa7Ke9Ti';

installFakeVscode();

/** A Secrets API that remembers what it was asked (values included, to check them). */
class RecordingSecretsApi implements SecretsApi {
  readonly host = 'https://dbc-1.cloud.databricks.com';
  readonly scopes: SecretScope[] = [{ name: 'existing', backend_type: 'DATABRICKS' }];
  readonly stored = new Map<string, string>();
  readonly calls: string[] = [];
  failPut?: Error;
  async listScopes() {
    this.calls.push('listScopes');
    return this.scopes;
  }
  async createScope(scope: string) {
    this.calls.push(`createScope ${scope}`);
    if (this.scopes.some((s) => s.name === scope)) return 'exists' as const;
    this.scopes.push({ name: scope, backend_type: 'DATABRICKS' });
    return 'created' as const;
  }
  async putSecret(scope: string, key: string, value: string) {
    this.calls.push(`putSecret ${scope}/${key}`);
    if (this.failPut) throw this.failPut;
    this.stored.set(`${scope}/${key}`, value);
  }
  async listSecrets(scope: string): Promise<SecretMetadata[]> {
    this.calls.push(`listSecrets ${scope}`);
    return [...this.stored.keys()].filter((k) => k.startsWith(`${scope}/`)).map((k) => ({ key: k.slice(scope.length + 1), last_updated_timestamp: 1 }));
  }
}

describe('secret scanning in the editor (VS Code shell over a fake API)', () => {
  let shell: typeof import('../../../src/vscode/secrets/registerSecretScanning');
  let actions: typeof import('../../../src/vscode/secrets/SecretCodeActions');
  let api: RecordingSecretsApi;
  let registration: { dispose(): void } | undefined;
  const asked: string[] = [];

  before(async () => {
    shell = await import('../../../src/vscode/secrets/registerSecretScanning');
    actions = await import('../../../src/vscode/secrets/SecretCodeActions');
  });

  beforeEach(() => {
    resetFake();
    api = new RecordingSecretsApi();
    asked.length = 0;
    registration = shell.registerSecretScanning({
      extensionUri: Uri.file('/ext') as never,
      commands: {
        register: (id: string, fn: (...args: never[]) => unknown) => {
          state.commands.set(id, fn as (...args: unknown[]) => unknown);
          return { dispose: () => state.commands.delete(id) };
        },
      },
      databricksEnvironments: () => [
        { name: 'dev', host: 'https://dbc-1.cloud.databricks.com' },
        { name: 'prod', host: 'https://dbc-9.cloud.databricks.com', detail: 'asks for confirmation' },
      ],
      getSecretsClient: async (environment, purpose) => {
        asked.push(`${environment}:${purpose}`);
        return api;
      },
    });
  });
  afterEach(() => registration?.dispose());

  function diagnosticsOf(doc: FakeTextDocument): Diagnostic[] {
    return state.diagnostics.get(doc.uri.toString()) ?? [];
  }

  function quickFixes(doc: FakeTextDocument) {
    return new actions.SecretCodeActions().provideCodeActions(doc as never, undefined as never, { diagnostics: diagnosticsOf(doc) } as never) as unknown as {
      title: string;
      edit?: { edits: { range: unknown; newText: string }[] };
      command?: { command: string; arguments: unknown[] };
      isPreferred?: boolean;
    }[];
  }

  it('reports a secret on open with its code, a link to the README section and the key pair linked', () => {
    const doc = openDocument('/ws/s3.py', 'python', `import boto3\nk = "${AKIA}"\ns = "${AWS_SECRET}"\n`);
    const ds = diagnosticsOf(doc);
    assert.deepEqual(
      ds.map((d) => (typeof d.code === 'object' ? d.code.value : d.code)),
      ['mlspanner.secret.awsAccessKeyId', 'mlspanner.secret.awsSecretAccessKey'],
    );
    const code = ds[0].code as { target: Uri };
    assert.equal(code.target.toString(), 'file:/ext/README.md#hard-coded-secrets');
    assert.equal(ds[0].source, 'ML Spanner');
    assert.equal(ds[0].relatedInformation?.length, 1);
    assert.ok(!ds.some((d) => d.message.includes(AWS_SECRET)), 'no value in a message');
  });

  it('offers the environment fix (preferred) and the secret-scope move; the fix edits the document', () => {
    const doc = openDocument('/ws/train.py', 'python', `from databricks.sdk import WorkspaceClient\nw = WorkspaceClient(host="https://h", token="${PAT}")\n`);
    const [envFix, move] = quickFixes(doc);
    assert.match(envFix.title, /Use the environment's credentials: drop token=/);
    assert.equal(envFix.isPreferred, true);
    assert.equal(move.title, 'Move to a Databricks secret scope…');
    assert.equal(move.command?.command, 'mlspanner.moveSecretToScope');
    assert.ok(applyEdit(envFix.edit as unknown as WorkspaceEdit));
    assert.equal(doc.getText(), 'from databricks.sdk import WorkspaceClient\nw = WorkspaceClient(host="https://h")\n');
  });

  it('moves a secret: environment, new scope, key; stores the value, verifies it, replaces the literal', async () => {
    const doc = openDocument('/ws/train.py', 'python', `token = "${PAT}"\n`);
    const [, move] = quickFixes(doc);
    state.quickPicks.push((items) => items.find((i) => i.label === 'dev'));
    state.quickPicks.push((items) => items[0]); // "Create a new scope…"
    state.inputBoxes.push((o) => {
      assert.equal(o.value, 'churn-model', 'scope suggested from the workspace folder');
      assert.match(o.validateInput?.('existing') ?? '', /already exists/);
      assert.match(o.validateInput?.('no spaces') ?? '', /letters, digits/);
      return 'ml-churn';
    });
    state.inputBoxes.push((o) => {
      assert.equal(o.value, 'databricks-token');
      return o.value;
    });
    await state.commands.get('mlspanner.moveSecretToScope')!(...(move.command!.arguments as unknown[]));
    assert.deepEqual(asked, ['dev:secretScope']);
    assert.deepEqual(api.calls, ['listScopes', 'createScope ml-churn', 'putSecret ml-churn/databricks-token', 'listSecrets ml-churn']);
    assert.equal(api.stored.get('ml-churn/databricks-token'), PAT);
    assert.equal(doc.getText(), 'token = dbutils.secrets.get(scope="ml-churn", key="databricks-token")\n');
    assert.match(state.messages.at(-1)!.text, /Moved to secret scope ml-churn \(key databricks-token\) in dev\. Revoke or rotate it/);
  });

  it('asks before replacing a key that exists in the chosen scope', async () => {
    api.stored.set('existing/databricks-token', 'old');
    const doc = openDocument('/ws/a.scala', 'scala', `val token = "${PAT}"\n`);
    const [, move] = quickFixes(doc);
    state.quickPicks.push((items) => items.find((i) => i.label === 'dev'));
    state.quickPicks.push((items) => items.find((i) => i.label === 'existing'));
    state.inputBoxes.push((o) => o.value);
    state.messageAnswers.push(undefined); // dismisses "Replace its value?"
    await assert.rejects(Promise.resolve(state.commands.get('mlspanner.moveSecretToScope')!(...(move.command!.arguments as unknown[]))), (e: Error & { kind?: string }) => e.kind === 'cancelled');
    assert.equal(api.stored.get('existing/databricks-token'), 'old', 'nothing overwritten');
    assert.equal(doc.getText(), `val token = "${PAT}"\n`, 'the literal stays');
  });

  it('leaves the literal in place when the workspace refuses the put', async () => {
    api.failPut = new ServiceError('Databricks', 403, 'PERMISSION_DENIED', 'Databricks refused /api/2.0/secrets/put: PERMISSION_DENIED', 'You need WRITE or MANAGE on scope existing.');
    const doc = openDocument('/ws/report.sql', 'sql', "CREATE CONNECTION c TYPE mysql OPTIONS (user 'u', password 'Qz7#kP2x!Lm9');\n");
    const [move] = quickFixes(doc);
    assert.equal(move.title, 'Move to a Databricks secret scope…', 'SQL has no environment fix, only the move');
    state.quickPicks.push((items) => items.find((i) => i.label === 'dev'));
    state.quickPicks.push((items) => items.find((i) => i.label === 'existing'));
    state.inputBoxes.push((o) => o.value);
    await assert.rejects(Promise.resolve(state.commands.get('mlspanner.moveSecretToScope')!(...(move.command!.arguments as unknown[]))), (e: ServiceError) => e.code === 'PERMISSION_DENIED');
    assert.match(doc.getText(), /password 'Qz7#kP2x!Lm9'/);
  });

  it('refuses a stale quick fix after the document changed', async () => {
    const doc = openDocument('/ws/t.py', 'python', `token = "${PAT}"\n`);
    const [, move] = quickFixes(doc);
    doc.setText(`# edited\ntoken = "${PAT}"\n`);
    await assert.rejects(Promise.resolve(state.commands.get('mlspanner.moveSecretToScope')!(...(move.command!.arguments as unknown[]))), /document changed/);
    assert.deepEqual(api.calls, []);
  });

  it('scans the workspace: files from disk, a summary with the Problems view', async () => {
    state.files.set('/ws/config/.env', `DATABRICKS_TOKEN=${PAT}\nAWS_ACCESS_KEY_ID=${AKIA}\nAWS_SECRET_ACCESS_KEY=${AWS_SECRET}\n`);
    state.files.set('/ws/clean.py', 'import os\ntoken = os.environ["DATABRICKS_TOKEN"]\n');
    state.messageAnswers.push('Open Problems');
    const summary = (await state.commands.get('mlspanner.scanWorkspaceForSecrets')!()) as { findings: number; filesWithFindings: number; filesScanned: number };
    assert.deepEqual(summary, { filesScanned: 2, filesWithFindings: 1, findings: 3, cancelled: false });
    assert.equal(state.diagnostics.get('file:/ws/config/.env')?.length, 3);
    assert.match(state.messages.at(-1)!.text, /^Found 3 hard-coded secrets in 1 file \(2 files scanned\)/);
    assert.deepEqual(state.executed.at(-1), { command: 'workbench.actions.view.problems', args: [] });
  });
});
