// Test-only: lists vscode.lm.tools and calls vscode.lm.invokeTool for each request in
// probe-request.json (an array of { name, input }) of the first workspace folder, writing
// probe-result.json ({ tools, results: [{ name, text | error }] }) after every call.
const vscode = require('vscode');
const path = require('path');
const fs = require('fs');

exports.activate = (context) => {
  context.subscriptions.push(
    vscode.commands.registerCommand('mlspannerProbe.invokeTools', async () => {
      const folder = vscode.workspace.workspaceFolders[0].uri.fsPath;
      const requests = JSON.parse(fs.readFileSync(path.join(folder, 'probe-request.json'), 'utf8'));
      const out = { tools: vscode.lm.tools.filter((t) => t.name.startsWith('mlspanner_')).map((t) => ({ name: t.name, description: t.description, inputSchema: t.inputSchema })), results: [] };
      const save = () => fs.writeFileSync(path.join(folder, 'probe-result.json'), JSON.stringify(out, null, 2));
      for (const r of requests) {
        try {
          const result = await vscode.lm.invokeTool(r.name, { input: r.input, toolInvocationToken: undefined });
          const text = result.content.map((p) => (p instanceof vscode.LanguageModelTextPart ? p.value : '')).join('');
          out.results.push({ name: r.name, text });
        } catch (e) {
          out.results.push({ name: r.name, error: String((e && e.message) || e) });
        }
        save();
      }
      out.done = true;
      save();
    }),
  );
};
exports.deactivate = () => undefined;
