// A fake vscode.ExtensionContext for an extension file: storage in a fresh temporary folder,
// in-memory mementos and SecretStorage (with change events), the manifest from package.json.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

function memento() {
  const m = new Map();
  return { get: (k, d) => (m.has(k) ? m.get(k) : d), update: async (k, v) => void (v === undefined ? m.delete(k) : m.set(k, v)), keys: () => [...m.keys()], setKeysForSync() {} };
}

exports.fakeContext = function fakeContext(extensionFile, vscode) {
  const root = path.dirname(path.dirname(extensionFile));
  const storage = fs.mkdtempSync(path.join(os.tmpdir(), 'mlspanner-bench-'));
  const secrets = new Map();
  const secretChanges = new vscode.EventEmitter();
  let packageJSON = {};
  try {
    packageJSON = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  } catch {
    // An extension without a manifest beside it (the empty baseline).
  }
  const context = {
    subscriptions: [],
    extensionPath: root,
    extensionUri: vscode.Uri.file(root),
    globalStorageUri: vscode.Uri.file(path.join(storage, 'global')),
    storageUri: vscode.Uri.file(path.join(storage, 'workspace')),
    logUri: vscode.Uri.file(path.join(storage, 'log')),
    globalStoragePath: path.join(storage, 'global'),
    storagePath: path.join(storage, 'workspace'),
    logPath: path.join(storage, 'log'),
    extensionMode: 1,
    extension: { id: 'mlspanner.mlspanner', packageJSON, extensionKind: 2 },
    globalState: memento(),
    workspaceState: memento(),
    secrets: {
      get: async (k) => secrets.get(k),
      store: async (k, v) => void (secrets.set(k, v), secretChanges.fire({ key: k })),
      delete: async (k) => void (secrets.delete(k), secretChanges.fire({ key: k })),
      keys: async () => [...secrets.keys()],
      onDidChange: secretChanges.event,
    },
    environmentVariableCollection: { replace() {}, append() {}, prepend() {}, get() {}, forEach() {}, delete() {}, clear() {}, persistent: false, description: undefined },
    asAbsolutePath: (p) => path.join(root, p),
  };
  return { context, cleanUp: () => fs.rmSync(storage, { recursive: true, force: true }) };
};
