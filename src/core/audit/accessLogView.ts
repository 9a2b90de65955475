import type { AccessEvent, VerifyResult } from './AccessLog';

/** Which entries the access-log view shows. */
export interface AccessLogFilter {
  via?: 'agent' | 'user';
  environment?: string;
  outcome?: 'success' | 'failure' | 'denied' | 'cancelled';
  /** Event types, e.g. ['accessDenied', 'credentialDenied']. */
  types?: readonly string[];
}

function cell(v: unknown): string {
  const text = v === undefined || v === null ? '' : String(v);
  return text.replace(/\s+/g, ' ').replace(/\|/g, '\\|').replace(/([`*_[\]<>])/g, '\\$1').slice(0, 160);
}

export function matches(e: AccessEvent, f: AccessLogFilter): boolean {
  const via = e.via === 'agent' ? 'agent' : 'user';
  if (f.via && via !== f.via) return false;
  if (f.environment && e.environment !== f.environment) return false;
  if (f.outcome && e.outcome !== f.outcome) return false;
  if (f.types?.length && !f.types.includes(e.type)) return false;
  return true;
}

/**
 * The access log for reading: whether the chain verifies, then the matching entries newest
 * first (time, who, by, event, where, outcome, why). At most `limit` rows; entries are already
 * free of tokens (the log stores fingerprints only).
 */
export function formatAccessLog(
  entries: readonly AccessEvent[],
  filter: AccessLogFilter,
  verify: Pick<VerifyResult, 'ok' | 'count' | 'brokenAt'> & Partial<Pick<VerifyResult, 'breaks' | 'anchor'>>,
  title: string,
  limit = 500,
): string {
  const shown = entries.filter((e) => matches(e, filter)).reverse();
  const breaks = verify.breaks?.length ?? (verify.ok ? 0 : 1);
  const anchored = verify.anchor === 'anchored' ? ', anchored to the head kept in the keychain' : '';
  const head = verify.ok
    ? `**Verified**: ${verify.count} entries, the hash chain is intact${anchored}.`
    : `**Verification failed** at line ${verify.brokenAt?.line}: ${cell(verify.brokenAt?.reason)}${breaks > 1 ? ` (${breaks} breaks in all; Verify Access Log lists them)` : ''}. Entries before it are intact; export the log for review.`;
  const lines = [`# Access log · ${title}`, '', head, '', `${shown.length} matching entr${shown.length === 1 ? 'y' : 'ies'}${shown.length > limit ? `, the newest ${limit} shown` : ''}, newest first.`, ''];
  lines.push('| Time | Who | By | Event | Environment | What | Outcome | Reason or detail |', '| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const e of shown.slice(0, limit)) {
    const who = e.actor?.name ?? e.actor?.subject ?? '';
    const by = e.via === 'agent' ? `agent (${cell(e.tool)})` : 'you';
    const what = [e.target, e.purpose ? `for ${e.purpose}` : ''].filter(Boolean).join(' ');
    lines.push(`| ${cell(e.time?.replace('T', ' ').replace(/\.\d+Z$/, 'Z'))} | ${cell(who)} | ${by} | ${cell(e.type)} | ${cell(e.environment)} | ${cell(what)} | ${cell(e.outcome)} | ${cell(e.reason ?? e.detail)} |`);
  }
  return lines.join('\n') + '\n';
}
