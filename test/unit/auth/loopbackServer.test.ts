import { strict as assert } from 'node:assert';
import * as net from 'node:net';
import { LoopbackServer } from '../../../src/core/auth/LoopbackServer';

/** Sends raw bytes to the server and returns whatever it answers before closing (or after 2 s). */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(text);
    };
    const timer = setTimeout(done, 2000);
    socket.on('data', (d) => {
      text += d.toString('latin1');
      if (/\r\n\r\n/.test(text)) done();
    });
    socket.on('error', done);
    socket.on('close', done);
    socket.write(bytes, 'latin1');
  });
}

const HOSTILE_TARGETS = [
  '//[',
  '//[::1',
  '//example.com/callback?state=st&code=x',
  'http://[::1/callback',
  'http://evil.example/callback?state=st',
  '*',
  '/callback/../../%2e%2e/etc/passwd',
  '/%zz%',
  '/callback?state=%E0%A4%A&code=%',
  '\\\\evil\\callback',
  `/${'a'.repeat(8000)}`,
];

describe('LoopbackServer with hostile requests', () => {
  it('answers 400 or 404 to every hostile request target, never throws, and still takes the real callback', async () => {
    const s = await LoopbackServer.start();
    const port = Number(new URL(s.redirectUri).port);
    const wait = s.waitForCallback({ state: 'st', timeoutMs: 10_000 });
    for (const target of HOSTILE_TARGETS) {
      const answer = await raw(port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
      assert.match(answer, /^HTTP\/1\.1 4\d\d /, `answer to ${JSON.stringify(target.slice(0, 40))}: ${JSON.stringify(answer.slice(0, 60))}`);
    }
    for (const line of ['GARBAGE\r\n\r\n', 'GET\r\n\r\n', 'GET / HTTP/9.9\r\n\r\n', 'GET /callback HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n', '\x00\x01\x02\r\n\r\n']) {
      const answer = await raw(port, line);
      assert.ok(answer === '' || /^HTTP\/1\.1 4\d\d /.test(answer), `answer to ${JSON.stringify(line)}: ${JSON.stringify(answer.slice(0, 60))}`);
    }
    const ok = await raw(port, `GET /callback?code=c&state=st HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
    assert.match(ok, /^HTTP\/1\.1 200 /);
    assert.equal((await wait).searchParams.get('code'), 'c');
  });

  it('turns requests away before a sign-in waits, instead of leaving them hanging', async () => {
    const s = await LoopbackServer.start();
    try {
      const res = await fetch(`${s.redirectUri}?code=c&state=st`, { signal: AbortSignal.timeout(2000) });
      assert.equal(res.status, 404);
    } finally {
      s.close();
    }
  });
});
