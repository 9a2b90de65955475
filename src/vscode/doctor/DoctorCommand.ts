import * as vscode from 'vscode';
import type { AccessGate } from '../../core/access/AccessGate';
import type { AccessLog } from '../../core/audit/AccessLog';
import type { SessionManager } from '../../core/auth/SessionManager';
import { hostTrustChecks } from '../../core/access/hostTrust';
import { formatDiagnostics, runDiagnostics, type CheckResult } from '../../core/doctor/Doctor';
import type { ProxyInputs } from '../../core/doctor/proxy';
import { redact } from '../../core/redact';
import type { CommandRunner } from '../common/CommandRunner';
import type { ReadOnlyDocuments } from '../common/ReadOnlyDocuments';
import type { Settings } from '../common/Settings';
import type { EnvironmentsService } from '../environments/EnvironmentsService';
import { settingSourceChecks, settingSourcesIndex, vscodeSettingContext } from './settingSources';

/** VS Code's proxy settings as the extension host applies them to the extension's requests. */
function proxyInputs(): ProxyInputs {
  const http = vscode.workspace.getConfiguration('http');
  return {
    httpProxy: http.get<string>('proxy'),
    proxySupport: http.get<string>('proxySupport'),
    noProxy: http.get<string[]>('noProxy'),
    env: process.env,
  };
}

/** ML Spanner: Doctor — one report of settings, provider, session, environments and the log. */
export class DoctorCommand {
  constructor(
    private readonly settings: Settings,
    private readonly sessions: SessionManager,
    private readonly environments: EnvironmentsService,
    private readonly gate: AccessGate,
    private readonly accessLog: AccessLog,
    private readonly documents: ReadOnlyDocuments,
    private readonly log: vscode.LogOutputChannel,
    /** Central audit (AuditForwarding): its line follows the access log's. */
    private readonly auditForwarding?: { check(): Promise<CheckResult> },
  ) {}

  register(commands: CommandRunner): vscode.Disposable {
    return commands.register('mlspanner.doctor', () => this.run());
  }

  private async run(): Promise<void> {
    const results = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'ML Spanner: checking sign-in and environments…' }, () =>
      runDiagnostics({
        idp: this.settings.idp(),
        session: this.sessions.current(),
        environments: this.environments.resolution(),
        gate: this.gate,
        verifyAccessLog: () => this.accessLog.verify(),
        workspaceTrusted: vscode.workspace.isTrusted,
        proxy: proxyInputs(),
      }),
    );
    // Every host tokens go to, with its trust state for you (host trust), before the access log.
    const logAt = results.findIndex((r) => r.area === 'Access log');
    results.splice(logAt < 0 ? results.length : logAt, 0, ...hostTrustChecks(this.gate.hostReport()));
    // Where each setting and each environment was read from (default, User, Workspace, Folder, databricks.yml).
    const sources = vscodeSettingContext();
    results.splice(settingSourcesIndex(results), 0, ...settingSourceChecks(sources, sources.keys, this.environments.resolution(), this.environments.bundleSource()));
    if (this.auditForwarding) results.push(await this.auditForwarding.check());
    for (const r of results) if (r.status === 'fail' || r.status === 'warn') this.log.warn(`doctor: ${r.area}: ${redact(r.message)}`);
    await this.documents.show('ML Spanner doctor.md', redact(formatDiagnostics(results, new Date())), { preview: true });
  }
}
