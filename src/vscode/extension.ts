import * as vscode from 'vscode';
import { StandIns, contributionsOf } from './common/StandIns';
import type * as MainModule from './main';

/**
 * Activation registers what package.json contributes (commands, views, language model tools, the
 * authentication provider) as stand-ins and returns. The services (src/vscode/main.ts, in
 * dist/features.js) are built right after, or earlier by the first stand-in that is used: a
 * command, a view that opens, a tool call, a session request.
 */
export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('ML Spanner', { log: true });
  context.subscriptions.push(log);
  let state: 'idle' | 'loading' | 'ready' | 'failed' = 'idle';
  const load = () => {
    if (state !== 'idle') return;
    state = 'loading';
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      (require('./main') as typeof MainModule).compose(context, log);
      state = 'ready';
    } catch (e) {
      state = 'failed';
      log.error(`ML Spanner Access could not start: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      void vscode.window.showErrorMessage('ML Spanner Access could not start. Reload the window; if it happens again, the ML Spanner output has the details.', 'Show Log').then((p) => p && log.show(true));
    }
  };
  const contributions = contributionsOf(context);
  if (!contributions?.commands.length) {
    // A host that passes no manifest: no stand-ins to answer for the services, so build them now.
    load();
    return;
  }
  context.subscriptions.push(new StandIns(contributions, load));
  const startup = setTimeout(load, 0);
  context.subscriptions.push({ dispose: () => clearTimeout(startup) });
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions.
}
