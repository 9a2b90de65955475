// A real forwarding proxy for the e2e suite: Debian's tinyproxy (`apt-get install tinyproxy`,
// installed by .ci/run), on a loopback address of its own and a free port, logging every request
// line so a test can say which hosts were reached through it.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort, waitFor } from '../../scripts/codeServer';

export interface ForwardProxy {
  /** e.g. http://127.0.0.5:41234 */
  url: string;
  /**
   * The requests forwarded so far, in order. A plain-HTTP request (`GET http://h:p/path`) shows
   * its path; a tunnel (`CONNECT h:p`, which fetch's proxy agent uses for every scheme) only its
   * host.
   */
  requests(): ProxiedRequest[];
  close(): Promise<void>;
}

export interface ProxiedRequest {
  method: string;
  /** host:port */
  host: string;
  /** Path and query of a plain-HTTP request; undefined for a CONNECT tunnel. */
  path?: string;
}

export const TINYPROXY = process.env.MLSPANNER_TINYPROXY ?? '/usr/bin/tinyproxy';

export async function startTinyproxy(host = '127.0.0.5'): Promise<ForwardProxy> {
  if (!fs.existsSync(TINYPROXY)) throw new Error(`${TINYPROXY} is missing: apt-get install tinyproxy (.ci/run does)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlspanner-proxy-'));
  fs.chmodSync(dir, 0o777); // tinyproxy may switch to an unprivileged user when started as root
  const port = await freePort(host);
  const logFile = path.join(dir, 'tinyproxy.log');
  const conf = path.join(dir, 'tinyproxy.conf');
  fs.writeFileSync(
    conf,
    [
      `Port ${port}`,
      `Listen ${host}`,
      'Timeout 60',
      `LogFile "${logFile}"`,
      'LogLevel Connect',
      'MaxClients 50',
      'Allow 127.0.0.0/8',
      'DisableViaHeader Yes',
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(TINYPROXY, ['-d', '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const close = async (): Promise<void> => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      `tinyproxy on ${host}:${port}`,
      () =>
        new Promise<boolean>((resolve, reject) => {
          if (child.exitCode !== null) return reject(new Error(`tinyproxy exited: ${output}`));
          const s = net.connect(port, host, () => (s.end(), resolve(true)));
          s.on('error', () => resolve(false));
        }),
      10_000,
    );
  } catch (e) {
    await close();
    throw e;
  }
  return {
    url: `http://${host}:${port}`,
    requests: () => {
      const text = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
      return [...text.matchAll(/Request \(file descriptor \d+\): ([A-Z]+) (\S+) HTTP\//g)].map(([, method, target]) => {
        if (method === 'CONNECT') return { method, host: target.toLowerCase() };
        const u = new URL(target);
        return { method, host: u.host, path: `${u.pathname}${u.search}` };
      });
    },
    close,
  };
}
