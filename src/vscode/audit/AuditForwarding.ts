import { hostname, userInfo } from 'node:os';
import * as vscode from 'vscode';
import type { AccessLog } from '../../core/audit/AccessLog';
import type * as Forwarder from '../../core/audit/forwarding/AuditForwarder';
import type { ForwardingIdentity } from '../../core/audit/forwarding/auditLogRecord';
import { FORWARDING_HEADERS_SECRET, headersFromSecret, parseForwardingHeaders } from '../../core/audit/forwarding/forwardingHeaders';
import { forwardingCheck } from '../../core/audit/forwarding/forwardingStatus';
import type { CheckResult } from '../../core/doctor/Doctor';
import { UserFacingError, errorMessage } from '../../core/errors';
import { checkEndpointUrl } from '../../core/policy/endpointUrl';
import { redact } from '../../core/redact';
import type { CommandRunner } from '../common/CommandRunner';
import { Disposables } from '../common/Disposables';

const SETTING = 'mlspanner.audit.otlpEndpoint';
/** The first send waits until activation and the session restore are done. */
const START_DELAY_MS = 3_000;

/**
 * The forwarder (and, on its first batch, the OpenTelemetry encoding) is loaded only when an
 * endpoint is set: activation without forwarding evaluates none of it (features.js, see
 * scripts/build.mjs).
 */
function loadForwarder(): typeof Forwarder {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('../../core/audit/forwarding/AuditForwarder') as typeof Forwarder;
}

function identity(context: Pick<vscode.ExtensionContext, 'extension'>): ForwardingIdentity {
  let osUser: string | undefined;
  try {
    osUser = userInfo().username;
  } catch {
    osUser = undefined; // no account name (some containers)
  }
  return { serviceVersion: String((context.extension.packageJSON as { version?: unknown }).version ?? ''), hostName: hostname(), osUser };
}

/**
 * Central audit: forwards every access-log entry to the OpenTelemetry collector named by
 * `mlspanner.audit.otlpEndpoint`, with the headers from **Set Audit Forwarding Headers…**
 * (kept in SecretStorage only). Starts, stops and restarts the core forwarder when the setting
 * or the headers change (in any window), and tells it after each append from this window.
 */
export class AuditForwarding extends Disposables {
  private forwarder?: Forwarder.AuditForwarder;
  private configError?: string;
  private generation = 0;
  private stopped = false;
  private started = false;
  /** Refusals already shown, so a failing collector raises one notification per cause, not one per attempt. */
  private readonly shown = new Set<string>();

  constructor(
    private readonly context: Pick<vscode.ExtensionContext, 'secrets' | 'extension'>,
    private readonly accessLog: Pick<AccessLog, 'file' | 'onDidAppend'>,
    private readonly log: vscode.LogOutputChannel,
    commands: CommandRunner,
  ) {
    super();
    this.register(accessLog.onDidAppend(() => this.forwarder?.notify()));
    this.register(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(SETTING)) void this.restart();
      }),
    );
    this.register(
      context.secrets.onDidChange((e) => {
        if (e.key === FORWARDING_HEADERS_SECRET) void this.restart();
      }),
    );
    this.register(commands.register('mlspanner.setAuditForwardingHeaders', () => this.setHeaders()));
    this.register({
      dispose: () => {
        this.stopped = true;
        this.forwarder?.dispose();
      },
    });
    void this.restart();
  }

  /** The doctor's line (see forwardingCheck). */
  async check(): Promise<CheckResult> {
    if (this.configError)
      return { area: 'Audit forwarding', status: 'fail', message: `${SETTING} ${this.configError}: nothing is forwarded.`, action: 'Correct the setting, or clear it to turn forwarding off.' };
    const f = this.forwarder;
    if (!f) return forwardingCheck(undefined, undefined, Date.now());
    try {
      const { status, pending } = await f.overview();
      return forwardingCheck(status, pending, Date.now());
    } catch (e) {
      return { ...forwardingCheck(f.status, undefined, Date.now()), status: 'warn', action: `The access log could not be read: ${redact(errorMessage(e))}` };
    }
  }

  /**
   * Only user (or remote machine) settings count: a workspace must not choose where the audit
   * trail and its headers go (the setting is machine-scoped and restricted as well).
   */
  private endpoint(): { url?: string; error?: string } {
    const raw = vscode.workspace.getConfiguration('mlspanner.audit').inspect<string>('otlpEndpoint')?.globalValue;
    if (typeof raw !== 'string' || !raw.trim()) return {};
    const checked = checkEndpointUrl(raw);
    return 'error' in checked ? { error: checked.error } : { url: checked.url };
  }

  private async restart(): Promise<void> {
    const gen = ++this.generation;
    const old = this.forwarder;
    this.forwarder = undefined;
    try {
      // The old one lets go of the lease first; its cursor is the new one's start.
      await old?.stop();
      const { url, error } = this.endpoint();
      this.configError = error;
      if (error) this.log.warn(`Audit forwarding is off: ${SETTING} ${error}.`);
      if (!url) return;
      const headers = headersFromSecret(await this.context.secrets.get(FORWARDING_HEADERS_SECRET));
      if (gen !== this.generation || this.stopped) return;
      const f = loadForwarder().createFileForwarder({
        logFile: this.accessLog.file,
        endpoint: url,
        headers,
        identity: identity(this.context),
        log: (level, m) => this.log[level](redact(m)),
      });
      this.forwarder = f;
      f.onDidChangeStatus((s) => {
        const err = s.lastError;
        if (!err || err.retryable || this.shown.has(err.message)) return;
        this.shown.add(err.message);
        void this.showRefusal(err.message, err.action, err.status);
      });
      this.log.info(`Audit forwarding to ${url} (${Object.keys(headers).length} header${Object.keys(headers).length === 1 ? '' : 's'} from the keychain).`);
      f.start(this.started ? 0 : START_DELAY_MS);
      this.started = true;
    } catch (e) {
      this.log.warn(`Audit forwarding could not start: ${redact(errorMessage(e))}`);
    }
  }

  /** A refusal only the user can fix (credentials, endpoint): say it once, with the way to fix it. */
  private async showRefusal(message: string, action: string | undefined, status: number | undefined): Promise<void> {
    const fix = status === 401 || status === 403 ? 'Set Headers…' : 'Open Settings';
    const pick = await vscode.window.showWarningMessage(`ML Spanner audit forwarding: ${message}${action ? ` ${action}` : ''}`, fix, 'Show Log');
    if (pick === 'Set Headers…') await vscode.commands.executeCommand('mlspanner.setAuditForwardingHeaders');
    else if (pick === 'Open Settings') await vscode.commands.executeCommand('workbench.action.openSettings', SETTING);
    else if (pick === 'Show Log') this.log.show(true);
  }

  /** ML Spanner: Set Audit Forwarding Headers… — stored in SecretStorage only, never shown or logged. */
  private async setHeaders(): Promise<void> {
    const current = Object.keys(headersFromSecret(await this.context.secrets.get(FORWARDING_HEADERS_SECRET)));
    const input = await vscode.window.showInputBox({
      title: 'ML Spanner: Audit Forwarding Headers',
      prompt: `Name: value pairs sent with every request to the audit collector, separated by ";". Kept in the OS keychain only.${
        current.length ? ` Replaces ${current.join(', ')}; leave empty to remove them.` : ''
      }`,
      placeHolder: 'Authorization: Api-Token …; X-Scope-OrgID: ml',
      password: true,
      ignoreFocusOut: true,
      validateInput: (v) => {
        const r = parseForwardingHeaders(v);
        return 'error' in r ? r.error : undefined;
      },
    });
    if (input === undefined) return;
    const parsed = parseForwardingHeaders(input);
    if ('error' in parsed) throw new UserFacingError('config', parsed.error);
    const names = Object.keys(parsed.headers);
    if (names.length) await this.context.secrets.store(FORWARDING_HEADERS_SECRET, JSON.stringify(parsed.headers));
    else await this.context.secrets.delete(FORWARDING_HEADERS_SECRET);
    // The secret store's change event restarts forwarding with them, here and in other windows.
    this.shown.clear();
    const where = this.endpoint().url ?? `nowhere yet: set ${SETTING}`;
    this.log.info(names.length ? `Audit forwarding headers stored: ${names.join(', ')}.` : 'Audit forwarding headers removed.');
    void vscode.window.showInformationMessage(
      names.length ? `Stored ${names.length} audit forwarding header${names.length === 1 ? '' : 's'} (${names.join(', ')}) in the OS keychain; sent to ${where}.` : 'Audit forwarding headers removed.',
    );
  }
}
