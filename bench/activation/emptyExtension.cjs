// The baseline: an extension that loads the vscode API and does nothing.
'use strict';
const vscode = require('vscode');
exports.activate = (context) => {
  context.subscriptions.push(new vscode.Disposable(() => undefined));
};
exports.deactivate = () => undefined;
