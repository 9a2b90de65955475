import { formatDuration } from '../format/duration';
import { formatProblem } from '../policy/Environment';
import type { AccessMatrix, MatrixCell, Verdict } from './accessMatrix';

/** Inline code in a Markdown table cell: no backtick breaks out, no pipe splits the cell. */
export function mdCode(v: string): string {
  return '`' + v.replace(/`/g, "'").replace(/\|/g, '\\|').replace(/\r?\n/g, ' ') + '`';
}

/** Plain text in a Markdown table cell. */
export function mdText(v: string): string {
  return v.replace(/([\\`*_[\]<>|])/g, '\\$1').replace(/\r?\n/g, ' ');
}

/** Words, not emoji: a machine without an emoji font would show empty boxes. */
export const VERDICT_WORDS: Readonly<Record<Verdict, string>> = {
  granted: 'granted',
  confirm: 'confirm',
  denied: 'denied',
};

function cellText(c: MatrixCell): string {
  if (!c.configured) return '— not configured';
  if (c.verdict === 'denied') return VERDICT_WORDS.denied;
  return `${VERDICT_WORDS[c.verdict]} · ${formatDuration(c.ttlCapSeconds)}`;
}

/** The verdict of a subject for an environment as a whole: any configured target's (they agree). */
function environmentVerdict(cells: MatrixCell[]): Verdict | 'none' {
  const configured = cells.filter((c) => c.configured);
  if (!configured.length) return 'none';
  return configured.find((c) => c.verdict !== 'denied')?.verdict ?? 'denied';
}

export interface RenderOptions {
  /** Where the policy came from, e.g. ".vscode/settings.json + databricks.yml". */
  source?: string;
  /** ISO time the matrix was made; omitted for reproducible output. */
  generatedAt?: string;
}

/** The matrix as one Markdown document: a summary, a table per subject, the identity mappings. */
export function matrixToMarkdown(m: AccessMatrix, options: RenderOptions = {}): string {
  const out: string[] = ['# Access matrix', ''];
  const facts = [`${m.environments.length} environment${m.environments.length === 1 ? '' : 's'}`, `${m.rows.length} group set${m.rows.length === 1 ? '' : 's'}`, `${m.targets.length} kinds of credential`];
  out.push(`${facts.join(' × ')}.${options.source ? ` Policy: ${mdText(options.source)}.` : ''}${options.generatedAt ? ` Generated ${options.generatedAt}.` : ''}`, '');
  out.push(
    '*granted*: issued on request; *confirm*: issued after the user confirms with a reason, which goes into the access log; *denied*: never issued. Times are the longest lifetime of a credential. Membership is any-of: a user in several groups gets what each of them gets.',
    '',
  );
  if (!m.environments.length) out.push('**No environments are defined.**', '');

  if (m.environments.length && m.rows.length) {
    out.push('## Summary', '', `| Who | ${m.environments.map(mdCode).join(' | ')} |`, `| --- |${' --- |'.repeat(m.environments.length)}`);
    for (const row of m.rows) {
      const byEnv = m.environments.map((env) => {
        const v = environmentVerdict(row.cells.filter((c) => c.environment === env));
        return v === 'none' ? '— nothing configured' : VERDICT_WORDS[v];
      });
      out.push(`| ${mdText(row.subject.label)} | ${byEnv.join(' | ')} |`);
    }
    out.push('');

    for (const row of m.rows) {
      out.push(`## ${mdText(row.subject.label)}`, '', `| Environment | ${m.targets.map((t) => mdText(t.service)).join(' | ')} | Why |`, `| --- |${' --- |'.repeat(m.targets.length + 1)}`);
      for (const env of m.environments) {
        const cells = row.cells.filter((c) => c.environment === env);
        const why = cells.find((c) => c.configured)?.reason ?? cells[0]?.reason ?? '';
        out.push(`| ${mdCode(env)} | ${m.targets.map((t) => cellText(cells.find((c) => c.target === t.id)!)).join(' | ')} | ${mdText(why)} |`);
      }
      out.push('');
    }
  }

  const mapped = (m.rows[0]?.cells ?? []).filter((c) => c.identity);
  if (mapped.length) {
    out.push('## Identity mappings', '', 'What each grant rests on: who the credential acts as, the settings that decide it, and where tokens are sent.', '');
    out.push('| Environment | Credential | Acts as | Settings | Tokens sent to |', '| --- | --- | --- | --- | --- |');
    for (const c of mapped) {
      const t = m.targets.find((x) => x.id === c.target);
      const id = c.identity!;
      out.push(
        `| ${mdCode(c.environment)} | ${mdText(t?.label ?? c.target)} | ${mdCode(id.principal)} | ${id.fields.map((f) => `${mdText(f.key)} ${mdCode(f.value)}`).join('<br>')} | ${id.endpoints.map(mdCode).join('<br>')} |`,
      );
    }
    out.push('');
  }

  if (m.problems.length) {
    out.push('## Problems in the policy', '', 'Environments with these problems are not usable by anyone and are missing above.', '');
    for (const p of m.problems) out.push(`- ${mdText(formatProblem(p))}`);
    out.push('');
  }
  return out.join('\n');
}

/** A CSV field: quoted when needed; a leading = + - @ cannot start a spreadsheet formula. */
export function csvField(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export const CSV_COLUMNS = ['who', 'groups', 'environment', 'credential', 'service', 'decision', 'ttl_cap_seconds', 'configured', 'acts_as', 'identity_settings', 'tokens_sent_to', 'reason'] as const;

/** One line per subject × environment × credential, for a spreadsheet or a security review. */
export function matrixToCsv(m: AccessMatrix): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const row of m.rows) {
    for (const c of row.cells) {
      const t = m.targets.find((x) => x.id === c.target);
      const fields = [
        row.subject.label,
        row.subject.groups.join(' '),
        c.environment,
        c.target,
        t?.service ?? c.target,
        c.configured ? c.verdict : 'not configured',
        c.configured ? String(c.ttlCapSeconds) : '',
        String(c.configured),
        c.identity?.principal ?? '',
        c.identity?.fields.map((f) => `${f.key}=${f.value}`).join('; ') ?? '',
        c.identity?.endpoints.join(' ') ?? '',
        c.reason,
      ];
      lines.push(fields.map(csvField).join(','));
    }
  }
  return lines.join('\r\n') + '\r\n';
}
