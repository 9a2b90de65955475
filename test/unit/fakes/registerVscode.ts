// Makes `require('vscode')` (and `import … from 'vscode'`) resolve to the fake in fakes/vscode.ts
// for unit tests of the shell. The real module exists only inside VS Code's extension host.
import Module from 'node:module';
import * as path from 'node:path';

const fake = path.join(__dirname, 'vscode.ts');
const original = (Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string })._resolveFilename;
(Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string })._resolveFilename = function (request: string, ...rest: unknown[]) {
  if (request === 'vscode') return fake;
  return original.call(this, request, ...rest);
};
