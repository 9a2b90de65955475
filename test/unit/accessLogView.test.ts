import { strict as assert } from 'node:assert';
import type { AccessEvent } from '../../src/core/audit/AccessLog';
import { formatAccessLog } from '../../src/core/audit/accessLogView';

const e = (seq: number, over: Partial<AccessEvent>): AccessEvent =>
  ({ seq, time: `2026-12-01T10:00:0${seq}.000Z`, prev: '', hash: '', type: 'credentialIssued', outcome: 'success', actor: { name: 'Carol' }, ...over }) as AccessEvent;

describe('access log view', () => {
  const entries = [
    e(1, { environment: 'dev', target: 'databricks' }),
    e(2, { type: 'agentToolInvoked', via: 'agent', tool: 'mlspanner_runQuery', environment: 'prod', outcome: 'denied', detail: 'closed to agents' }),
    e(3, { type: 'accessConfirmed', environment: 'prod', purpose: 'job', reason: 'INC-1 | "quoted" *bold*' }),
  ];

  it('filters by agent or person, newest first, with the verify state at the top', () => {
    const agents = formatAccessLog(entries, { via: 'agent' }, { ok: true, count: 3 }, 'By agents');
    assert.match(agents, /\*\*Verified\*\*: 3 entries/);
    assert.match(agents, /1 matching entry/);
    assert.match(agents, /\| agent \(mlspanner\\_runQuery\) \| agentToolInvoked \| prod \|/);
    const people = formatAccessLog(entries, { via: 'user' }, { ok: true, count: 3 }, 'By you');
    const rows = people.split('\n').filter((l) => l.startsWith('| 2026'));
    assert.deepEqual(rows.map((r) => r.split(' | ')[3]), ['accessConfirmed', 'credentialIssued'], 'newest first');
    assert.match(people, /job for job|for job/);
  });

  it('escapes table and Markdown syntax in reasons, and says where verification failed', () => {
    const md = formatAccessLog(entries, { types: ['accessConfirmed'] }, { ok: false, count: 1, brokenAt: { line: 2, reason: 'content does not match its hash (entry edited)' } }, 'Confirmations');
    assert.match(md, /INC-1 \\\| "quoted" \\\*bold\\\*/);
    assert.match(md, /\*\*Verification failed\*\* at line 2/);
  });
});
