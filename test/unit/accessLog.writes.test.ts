import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccessLog, AccessLogWriteError } from '../../src/core/audit/AccessLog';
import { forgetSecret, registerSecret } from '../../src/core/redact';

const file = () => join(mkdtempSync(join(tmpdir(), 'mlspanner-writes-')), 'access-log.jsonl');

function logWithErrors(f = file(), lock?: { timeoutMs?: number; staleMs?: number }) {
  const errors: unknown[] = [];
  const log = new AccessLog(f, () => ({ actor: { subject: 'alice' } }), Date.now, (e) => errors.push(e), { lock });
  return { log, errors };
}

describe('AccessLog writes: redaction on values', () => {
  it('keeps a reason with quotes and code= exactly, and the line stays parsable', async () => {
    const { log, errors } = logWithErrors();
    const reason = 'INC-4711 "code=abc123" approved';
    await log.append({ type: 'jobRequested', outcome: 'success', environment: 'prod', reason });
    await log.append({ type: 'jobStarted', outcome: 'success', environment: 'prod' });
    const entries = await log.entries();
    assert.equal(entries.length, 2, 'no entry lost');
    assert.equal(entries[0].reason, reason);
    const r = await log.verify();
    assert.equal(r.ok, true);
    assert.equal(r.total, 2);
    assert.deepEqual(errors, []);
  });

  it('does not over-redact ordinary text', async () => {
    const { log } = logWithErrors();
    const detail = 'error_code=E42 from the basic built-in check; the token expired';
    await log.append({ type: 'credentialFailed', outcome: 'failure', detail });
    assert.equal((await log.entries())[0].detail, detail);
  });

  it('redacts a secret inside a quoted value without breaking the line', async () => {
    const { log } = logWithErrors();
    const secret = 'Op4que-Refresh-Value-1234';
    await log.append({ type: 'sessionRefreshFailed', outcome: 'failure', detail: `server said {"refresh_token":"${secret}"} and "Bearer ${secret}"` });
    const text = readFileSync(log.file, 'utf8');
    assert.ok(!text.includes(secret), text);
    const [e] = await log.entries();
    assert.equal(e.detail, 'server said {"refresh_token":"[redacted]"} and "Bearer [redacted]"');
    assert.equal((await log.verify()).ok, true);
  });

  it('redacts secret-named fields and nested values of structured extras', async () => {
    const { log } = logWithErrors();
    await log.append({ type: 'agentToolInvoked', outcome: 'success', request: { headers: { authorization: 'whatever-it-is' }, client_secret: 'abc' } } as never);
    const [e] = await log.entries();
    assert.deepEqual(e.request, { headers: { authorization: '[redacted]' }, client_secret: '[redacted]' });
  });

  it('removes the exact values of registered live secrets', async () => {
    const live = 'plainlookingsecretvalue';
    registerSecret(live);
    try {
      const { log } = logWithErrors();
      await log.append({ type: 'credentialIssued', outcome: 'success', detail: `value ${live} seen`, [`k-${live}`]: 1 });
      assert.ok(!readFileSync(log.file, 'utf8').includes(live));
    } finally {
      forgetSecret(live);
    }
  });

  it('ignores a caller’s chain fields: the log numbers and links its own entries', async () => {
    const { log } = logWithErrors();
    await log.append({ type: 'signIn', outcome: 'success', seq: 99, prev: 'x', hash: 'y', mac: 'z' });
    const [e] = await log.entries();
    assert.equal(e.seq, 1);
    assert.equal((await log.verify()).ok, true);
  });
});

describe('AccessLog writes: failures are visible', () => {
  it('an entry is still written when the defaults (the actor) cannot be read', async () => {
    const warnings: string[] = [];
    const log = new AccessLog(file(), () => {
      throw new ReferenceError('session not ready');
    }, Date.now, undefined, { onWarning: (m) => warnings.push(m) });
    await log.append({ type: 'signIn', outcome: 'success' });
    assert.equal((await log.entries()).length, 1);
    assert.match(warnings.join(), /defaults \(actor\) could not be read.*session not ready/);
  });


  it('an entry that cannot be serialised rejects append() and reaches onError', async () => {
    const { log, errors } = logWithErrors();
    await assert.rejects(log.append({ type: 'signIn', outcome: 'success', size: 10n }), (e: Error) => {
      assert.ok(e instanceof AccessLogWriteError);
      assert.match(e.message, /'signIn' access-log entry: size is a BigInt/);
      return true;
    });
    assert.equal(errors.length, 1);
    assert.doesNotThrow(() => log.record({ type: 'signIn', outcome: 'success', size: 10n }));
    await log.flush();
    assert.equal(errors.length, 2);
    await log.append({ type: 'signOut', outcome: 'success' });
    assert.equal((await log.verify()).total, 1, 'later entries are written');
  });

  it('a file that cannot be written rejects append() with the path and the reason', async () => {
    const blocker = file();
    writeFileSync(blocker, 'a file where a folder should be');
    const { log, errors } = logWithErrors(join(blocker, 'access-log.jsonl'));
    await assert.rejects(log.append({ type: 'signIn', outcome: 'success' }), /Could not write 1 access-log entry to .*access-log\.jsonl: .*(ENOTDIR|EEXIST)/);
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof AccessLogWriteError);
  });

  it('flush() never rejects, even after failed writes', async () => {
    const blocker = file();
    writeFileSync(blocker, 'x');
    const { log } = logWithErrors(join(blocker, 'log.jsonl'));
    log.record({ type: 'signIn', outcome: 'success' });
    await log.flush();
  });
});

describe('AccessLog writes: the lock file', () => {
  const lockOf = (f: string) => `${f}.lock`;

  it('takes over a lock whose process is gone', async () => {
    const f = file();
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    writeFileSync(lockOf(f), JSON.stringify({ pid: Number(dead), host: hostname(), time: Date.now(), id: 'gone' }));
    const { log, errors } = logWithErrors(f, { timeoutMs: 5_000 });
    await log.append({ type: 'signIn', outcome: 'success' });
    assert.deepEqual(errors, []);
    assert.equal(existsSync(lockOf(f)), false, 'released after the write');
  });

  it('takes over a lock older than the stale limit', async () => {
    const f = file();
    writeFileSync(lockOf(f), JSON.stringify({ pid: process.pid, host: hostname(), time: Date.now() - 60_000, id: 'old' }));
    const old = new Date(Date.now() - 60_000);
    utimesSync(lockOf(f), old, old);
    const { log, errors } = logWithErrors(f, { timeoutMs: 5_000 });
    await log.append({ type: 'signIn', outcome: 'success' });
    assert.deepEqual(errors, []);
  });

  it('gives up on a live lock after the timeout, with a clear error', async () => {
    const f = file();
    writeFileSync(lockOf(f), JSON.stringify({ pid: process.pid, host: hostname(), time: Date.now(), id: 'live' }));
    const { log, errors } = logWithErrors(f, { timeoutMs: 200 });
    await assert.rejects(log.append({ type: 'signIn', outcome: 'success' }), /locked by process \d+ on .* for more than 0\.2 s\. If no other VS Code window is writing to it, delete .*\.lock/);
    assert.equal(errors.length, 1);
    assert.ok(existsSync(lockOf(f)), 'a live lock is not taken');
  });
});
