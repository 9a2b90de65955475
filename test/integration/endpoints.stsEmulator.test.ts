import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import type { SessionManager } from '../../src/core/auth/SessionManager';
import { startAwsStsEmulator, type AwsStsEmulator } from '../../sandbox/aws/AwsStsEmulator';
import { sandbox } from './setup';
import { signInAs } from './signInAs';

/**
 * The AWS emulator's GetCallerIdentity, the call the endpoint tests rely on, checked with boto3
 * signing: it must refuse what AWS refuses (a wrong secret key, a missing or wrong session token,
 * an unknown key, an expired session), or the endpoint tests would prove nothing.
 */

const SCRIPT = `
import sys, json, boto3, botocore.exceptions
from botocore.config import Config
a = json.loads(sys.stdin.readline())
cfg = Config(retries={'max_attempts': 1})
sts = boto3.client('sts', endpoint_url=a['url'], region_name='us-east-1', aws_access_key_id='x', aws_secret_access_key='x', config=cfg)
out = {}
c = sts.assume_role_with_web_identity(RoleArn=a['role'], RoleSessionName='alice', WebIdentityToken=a['token'], DurationSeconds=900)['Credentials']
def call(key, secret, token):
    kw = {'aws_access_key_id': key, 'aws_secret_access_key': secret}
    if token is not None: kw['aws_session_token'] = token
    s = boto3.client('sts', endpoint_url=a['url'], region_name='eu-central-1', config=cfg, **kw)
    try:
        return {'ok': True, 'arn': s.get_caller_identity()['Arn']}
    except botocore.exceptions.ClientError as e:
        return {'ok': False, 'code': e.response['Error']['Code'], 'status': e.response['ResponseMetadata']['HTTPStatusCode']}
out['valid'] = call(c['AccessKeyId'], c['SecretAccessKey'], c['SessionToken'])
out['wrongSecret'] = call(c['AccessKeyId'], c['SecretAccessKey'][:-2] + 'xx', c['SessionToken'])
out['noSessionToken'] = call(c['AccessKeyId'], c['SecretAccessKey'], None)
out['wrongSessionToken'] = call(c['AccessKeyId'], c['SecretAccessKey'], 'AQoDYXdzEJr' + 'x' * 40)
out['unknownKey'] = call('ASIAUNKNOWNUNKNOWN12', c['SecretAccessKey'], c['SessionToken'])
print(json.dumps(out))
if a.get('waitForExpiry'):
    sys.stdout.flush()
    sys.stdin.readline()
    print(json.dumps({'expired': call(c['AccessKeyId'], c['SecretAccessKey'], c['SessionToken'])}))
`;

type Result = { ok: boolean; arn?: string; code?: string; status?: number };

describe('AWS STS emulator: GetCallerIdentity verifies SigV4 like AWS', function () {
  this.timeout(60_000);
  let alice: SessionManager;
  let clocked: AwsStsEmulator | undefined;
  let now = Date.now();

  before(async function () {
    if (spawnSync('python3', ['-c', 'import boto3'], { stdio: 'ignore' }).status !== 0) this.skip();
    alice = await signInAs('alice');
  });
  after(async () => {
    alice?.dispose();
    await clocked?.close();
  });

  function runClient(url: string, waitForExpiry = false): { first: Promise<Record<string, Result>>; next: () => Promise<Record<string, Result>> } {
    const child = spawn('python3', ['-c', SCRIPT], { env: { PATH: process.env.PATH, HOME: process.env.HOME } });
    let out = '';
    let err = '';
    const waiters: Array<() => void> = [];
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      waiters.splice(0).forEach((w) => w());
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    child.on('close', () => waiters.splice(0).forEach((w) => w()));
    const line = (n: number) =>
      new Promise<Record<string, Result>>((resolve, reject) => {
        const check = () => {
          const lines = out.split('\n').filter(Boolean);
          if (lines.length > n) return resolve(JSON.parse(lines[n]) as Record<string, Result>);
          if (child.exitCode !== null) return reject(new Error(`client ended: ${err.slice(-1500)}`));
          waiters.push(check);
        };
        check();
      });
    child.stdin.write(JSON.stringify({ url, role: sandbox().aws.roleArn('dev'), token: alice.current()!.idToken, waitForExpiry }) + '\n');
    if (!waitForExpiry) child.stdin.end();
    return {
      first: line(0),
      next: async () => {
        child.stdin.end('\n');
        return line(1);
      },
    };
  }

  it('accepts the session it issued and refuses a wrong secret, a missing or wrong session token and an unknown key', async () => {
    const r = await runClient(sandbox().aws.stsUrl).first;
    assert.equal(r.valid.ok, true);
    assert.equal(r.valid.arn, 'arn:aws:sts::111122223333:assumed-role/ml-dev/alice');
    assert.deepEqual(r.wrongSecret, { ok: false, code: 'SignatureDoesNotMatch', status: 403 });
    assert.deepEqual(r.noSessionToken, { ok: false, code: 'InvalidClientTokenId', status: 403 });
    assert.deepEqual(r.wrongSessionToken, { ok: false, code: 'InvalidClientTokenId', status: 403 });
    assert.deepEqual(r.unknownKey, { ok: false, code: 'InvalidClientTokenId', status: 403 });
  });

  it('refuses an expired session with ExpiredToken', async () => {
    clocked = await startAwsStsEmulator({ trust: sandbox().trust, roles: [{ roleArn: sandbox().aws.roleArn('dev'), requiredGroups: ['ml-dev'] }], quiet: true, now: () => now });
    const client = runClient(clocked.url, true);
    const first = await client.first;
    assert.equal(first.valid.ok, true);
    now += 901_000;
    const later = await client.next();
    assert.deepEqual(later.expired, { ok: false, code: 'ExpiredToken', status: 400 });
  });
});
