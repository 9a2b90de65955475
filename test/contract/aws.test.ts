import assert from 'node:assert/strict';
import { startAwsStsEmulator, type AwsStsEmulator } from '../../sandbox/aws/AwsStsEmulator';
import { loadContract, resolveShape, type AwsModel, type AwsShape } from './contracts';
import { startTestIssuer, type TestIssuer } from './TestIssuer';
import { child, parseXml, type XmlElement } from './xml';

const model = loadContract<AwsModel>('aws-sts-2011-06-15.min.json');
const examples = loadContract<{ examples: Record<string, Array<{ input: Record<string, unknown>; output: Record<string, unknown> }>> }>('aws-sts-2011-06-15.examples.json');
const OPERATION = 'AssumeRoleWithWebIdentity';
const CLIENT_ID = 'test-client';
const DEV_ROLE = 'arn:aws:iam::111122223333:role/ml-dev';
const ALICE_ROLE = 'arn:aws:iam::111122223333:role/alice-only';

/** Checks an XML element against a shape: children are members, required members present, scalars typed. */
function shapeViolations(el: XmlElement, shape: AwsShape, where: string): string[] {
  const resolved = resolveShape(model, shape);
  const problems: string[] = [];
  if (resolved.type === 'structure' || resolved.members) {
    const members = resolved.members ?? {};
    for (const c of el.children) {
      const member = members[c.name];
      if (!member) problems.push(`${where}/${c.name} is not a member`);
      else problems.push(...shapeViolations(c, member, `${where}/${c.name}`));
    }
    for (const r of resolved.required ?? []) if (!el.children.some((c) => c.name === r)) problems.push(`${where}/${r} is required`);
    return problems;
  }
  if (el.children.length) problems.push(`${where} should be a scalar`);
  if (resolved.type === 'timestamp' && Number.isNaN(Date.parse(el.text))) problems.push(`${where} is not a timestamp`);
  if (resolved.type === 'integer' && !/^-?\d+$/.test(el.text)) problems.push(`${where} is not an integer`);
  return problems;
}

describe('AWS STS emulator against the STS model (AssumeRoleWithWebIdentity)', () => {
  let idp: TestIssuer;
  let aws: AwsStsEmulator;
  const op = model.operations[OPERATION];

  before(async () => {
    idp = await startTestIssuer(CLIENT_ID);
    aws = await startAwsStsEmulator({
      quiet: true,
      trust: { issuer: idp.issuer, audience: CLIENT_ID, subjectClaim: 'sub', groupsClaim: 'groups' },
      roles: [
        { roleArn: DEV_ROLE, requiredGroups: ['ml-dev'] },
        { roleArn: ALICE_ROLE, subjectPatterns: ['ali*'], maxSessionDurationSeconds: 7200 },
      ],
    });
  });
  after(async () => {
    await aws?.close();
    await idp?.close();
  });

  function params(input: Record<string, string | number>): URLSearchParams {
    for (const key of Object.keys(input)) assert.ok(key in (op.input.members ?? {}), `${key} is not an input member`);
    const p = new URLSearchParams({ Action: OPERATION, Version: model.metadata.apiVersion });
    for (const [k, v] of Object.entries(input)) p.set(k, String(v));
    return p;
  }

  async function call(p: URLSearchParams, method: 'POST' | 'GET' = 'POST'): Promise<{ status: number; xml: XmlElement; text: string }> {
    const res =
      method === 'POST'
        ? await fetch(aws.url, { method, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: p })
        : await fetch(`${aws.url}/?${p}`);
    assert.match(res.headers.get('content-type') ?? '', /xml/);
    const text = await res.text();
    return { status: res.status, xml: parseXml(text), text };
  }

  function assertError(r: { status: number; xml: XmlElement; text: string }, status: number, code: string, token?: string): void {
    assert.equal(r.status, status, r.text);
    assert.equal(r.xml.name, 'ErrorResponse');
    assert.equal(r.xml.attributes.xmlns, model.metadata.xmlNamespace);
    const error = child(r.xml, 'Error');
    assert.deepEqual(error.children.map((c) => c.name).sort(), ['Code', 'Message', 'Type']);
    assert.equal(child(error, 'Code').text, code);
    assert.ok(['Sender', 'Receiver'].includes(child(error, 'Type').text));
    assert.ok(child(r.xml, 'RequestId').text.length > 0);
    if (token) assert.ok(!r.text.includes(token), 'errors must not echo the web identity token');
  }

  it('is a query-protocol service in the namespace the model names', () => {
    assert.equal(model.metadata.protocol, 'query');
    assert.equal(model.metadata.xmlNamespace, 'https://sts.amazonaws.com/doc/2011-06-15/');
  });

  it('answers with the output shape inside its result wrapper, over POST and GET', async () => {
    const token = await idp.sign({ sub: 'alice', groups: ['ml-dev'] });
    for (const method of ['POST', 'GET'] as const) {
      const before = Date.now();
      const r = await call(params({ RoleArn: DEV_ROLE, RoleSessionName: 'alice-session', WebIdentityToken: token, DurationSeconds: 900 }), method);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.xml.name, `${OPERATION}Response`);
      assert.equal(r.xml.attributes.xmlns, model.metadata.xmlNamespace);
      assert.deepEqual(r.xml.children.map((c) => c.name), [op.output.resultWrapper, 'ResponseMetadata']);
      assert.ok(child(child(r.xml, 'ResponseMetadata'), 'RequestId').text);
      const result = child(r.xml, op.output.resultWrapper ?? '');
      assert.deepEqual(shapeViolations(result, op.output, OPERATION), []);
      // Every member the emulator fills is one the documented example also has.
      const example = examples.examples[OPERATION][0].output;
      for (const c of result.children) assert.ok(c.name in example, `${c.name} is not in the documented example`);
      const credentials = child(result, 'Credentials');
      assert.match(child(credentials, 'AccessKeyId').text, /^ASIA[A-Z0-9]{16}$/);
      const expiration = Date.parse(child(credentials, 'Expiration').text);
      assert.ok(expiration >= before + 899_000 && expiration <= Date.now() + 900_000);
      const user = child(result, 'AssumedRoleUser');
      assert.equal(child(user, 'Arn').text, 'arn:aws:sts::111122223333:assumed-role/ml-dev/alice-session');
      assert.match(child(user, 'AssumedRoleId').text, /^AROA[A-Z0-9]+:alice-session$/);
      assert.equal(child(result, 'SubjectFromWebIdentityToken').text, 'alice');
      assert.equal(child(result, 'Audience').text, CLIENT_ID);
      assert.equal(child(result, 'Provider').text, idp.issuer);
    }
  });

  it('defaults DurationSeconds to 3600 and allows up to the role maximum', async () => {
    const token = await idp.sign({ sub: 'alice', groups: ['ml-dev'] });
    const r = await call(params({ RoleArn: DEV_ROLE, RoleSessionName: 's1', WebIdentityToken: token }));
    const expiration = Date.parse(child(child(child(r.xml, op.output.resultWrapper ?? ''), 'Credentials'), 'Expiration').text);
    assert.ok(Math.abs(expiration - Date.now() - 3_600_000) < 5_000);
    const long = await call(params({ RoleArn: ALICE_ROLE, RoleSessionName: 's2', WebIdentityToken: token, DurationSeconds: 7200 }));
    assert.equal(long.status, 200, long.text);
  });

  it('answers XML ErrorResponse codes for every rejection', async () => {
    const token = await idp.sign({ sub: 'alice', groups: ['ml-dev'] });
    const bob = await idp.sign({ sub: 'bob', groups: ['ml-staging'] });
    assertError(await call(params({ RoleArn: DEV_ROLE, RoleSessionName: 'sn', WebIdentityToken: await idp.signWithForeignKey({ sub: 'alice' }) })), 400, 'InvalidIdentityToken');
    assertError(await call(params({ RoleArn: DEV_ROLE, RoleSessionName: 'sn', WebIdentityToken: await idp.sign({ sub: 'alice' }, { audience: 'other' }) })), 400, 'InvalidIdentityToken');
    assertError(await call(params({ RoleArn: DEV_ROLE, RoleSessionName: 'sn', WebIdentityToken: 'not-a-jwt' })), 400, 'InvalidIdentityToken', 'not-a-jwt');
    const expired = await idp.sign({ sub: 'alice', groups: ['ml-dev'] }, { expiresInSeconds: -5 });
    assertError(await call(params({ RoleArn: DEV_ROLE, RoleSessionName: 'sn', WebIdentityToken: expired })), 400, 'ExpiredTokenException', expired);
    assertError(await call(params({ RoleArn: DEV_ROLE, RoleSessionName: 'sn', WebIdentityToken: bob })), 403, 'AccessDenied', bob);
    assertError(await call(params({ RoleArn: ALICE_ROLE, RoleSessionName: 'sn', WebIdentityToken: bob })), 403, 'AccessDenied');
    assertError(await call(params({ RoleArn: 'arn:aws:iam::111122223333:role/unknown', RoleSessionName: 'sn', WebIdentityToken: token })), 403, 'AccessDenied');
    assertError(await call(params({ RoleArn: DEV_ROLE, RoleSessionName: 'sn', WebIdentityToken: token, DurationSeconds: 899 })), 400, 'ValidationError');
    assertError(await call(params({ RoleArn: DEV_ROLE, RoleSessionName: 'sn', WebIdentityToken: token, DurationSeconds: 3601 })), 400, 'ValidationError');
    assertError(await call(params({ RoleArn: DEV_ROLE, RoleSessionName: 'bad name!', WebIdentityToken: token })), 400, 'ValidationError');
    // Each required input member of the model is enforced.
    for (const required of op.input.required ?? []) {
      const input: Record<string, string> = { RoleArn: DEV_ROLE, RoleSessionName: 'sn', WebIdentityToken: token };
      delete input[required];
      assertError(await call(params(input)), 400, 'ValidationError');
    }
    const wrongVersion = params({ RoleArn: DEV_ROLE, RoleSessionName: 'sn', WebIdentityToken: token });
    wrongVersion.set('Version', '2099-01-01');
    assertError(await call(wrongVersion), 400, 'InvalidAction');
  });
});
