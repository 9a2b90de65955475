import { strict as assert } from 'node:assert';
import { awsDurationSeconds, awsError, roleSessionName } from '../../src/core/credentials/assumeAwsRole';
import { parseAssumeRoleWithWebIdentityResponse, parseAwsError, parseXml } from '../../src/core/credentials/awsStsXml';
import { UserFacingError } from '../../src/core/errors';

/** The documented example response (aws-sts-2011-06-15.examples.json), as STS sends it. */
export const ASSUME_ROLE_XML = `<?xml version="1.0" encoding="UTF-8"?>
<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>amzn1.account.AF6RHO7KZU5XRVQJGXK6HEXAMPLE</SubjectFromWebIdentityToken>
    <Audience>client.5498841531868486423.1548@apps.example.com</Audience>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/FederatedWebIdentityRole/app1</Arn>
      <AssumedRoleId>AROACLKWSDQRAOEXAMPLE:app1</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <SessionToken>AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE</SessionToken>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <Expiration>2014-10-24T23:00:23Z</Expiration>
      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
    </Credentials>
    <Provider>www.amazon.com</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata>
    <RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId>
  </ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>`;

describe('AWS STS XML', () => {
  it('parses the documented AssumeRoleWithWebIdentity response', () => {
    assert.deepEqual(parseAssumeRoleWithWebIdentityResponse(ASSUME_ROLE_XML), {
      accessKeyId: 'ASIAIOSFODNN7EXAMPLE',
      secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY',
      sessionToken: 'AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE',
      expiration: Date.parse('2014-10-24T23:00:23Z'),
      assumedRoleArn: 'arn:aws:sts::123456789012:assumed-role/FederatedWebIdentityRole/app1',
    });
  });

  it('decodes entities and character references, keeps attributes, drops prefixes', () => {
    const el = parseXml(`<!-- c --><a:R xmlns:a="urn:x" k='v&amp;w'><a:B>x &lt;&#65;&#x42;&gt; &quot;y&apos;</a:B><C/></a:R>`);
    assert.equal(el.name, 'R');
    assert.equal(el.attributes['k'], 'v&w');
    assert.equal(el.children[0].text, `x <AB> "y'`);
    assert.equal(el.children[1].name, 'C');
  });

  const malformed: [string, string][] = [
    ['<a><b></a></b>', 'end tag </a> does not match <b>'],
    ['<a>', 'unclosed element <a>'],
    ['<a/><b/>', 'content after the root element'],
    ['<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>', 'unsupported markup at offset 0'],
    ['<a>&x;</a>', 'unknown entity &x;'],
    ['<a><![CDATA[x]]></a>', 'unsupported markup at offset 3'],
    ['text<a/>', 'text outside the root element'],
    ['<a b="1" b="2"/>', 'duplicate attribute b'],
    ['', 'no root element'],
  ];
  for (const [xml, message] of malformed) {
    it(`refuses ${JSON.stringify(xml.slice(0, 30))}`, () => assert.throws(() => parseXml(xml), { name: 'XmlSyntaxError', message }));
  }

  it('reports missing or repeated fields of a response as protocol errors', () => {
    const noKey = ASSUME_ROLE_XML.replace(/<AccessKeyId>.*<\/AccessKeyId>/, '');
    assert.throws(() => parseAssumeRoleWithWebIdentityResponse(noKey), (e: UserFacingError) => e.kind === 'protocol' && /AccessKeyId/.test(e.message));
    const twice = ASSUME_ROLE_XML.replace('<Provider>', '<Credentials><AccessKeyId>X</AccessKeyId></Credentials><Provider>');
    assert.throws(() => parseAssumeRoleWithWebIdentityResponse(twice), /<Credentials> appears 2 times/);
    assert.throws(() => parseAssumeRoleWithWebIdentityResponse('<html>oops</html>'), /got <html>/);
    assert.throws(() => parseAssumeRoleWithWebIdentityResponse(ASSUME_ROLE_XML.replace('2014-10-24T23:00:23Z', 'soon')), /Expiration/);
  });

  it('parses ErrorResponse documents and ignores anything else', () => {
    const xml = `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>Couldn't retrieve verification key from your identity provider</Message></Error><RequestId>1</RequestId></ErrorResponse>`;
    assert.deepEqual(parseAwsError(xml), { type: 'Sender', code: 'InvalidIdentityToken', message: "Couldn't retrieve verification key from your identity provider" });
    assert.equal(parseAwsError('<html>502</html>'), undefined);
    assert.equal(parseAwsError('{"error":"x"}'), undefined);
  });

  const errors: [string, string, RegExp][] = [
    ['InvalidIdentityToken', 'auth', /IAM OIDC identity provider.*mlspanner\.environments\.dev\.aws\.subjectToken/],
    ['ExpiredTokenException', 'auth', /sign in again/],
    ['AccessDenied', 'denied', /trust policy of arn:aws:iam::123456789012:role\/r.*mlspanner\.environments\.dev\.aws\.roleArn/],
    ['ValidationError', 'config', /mlspanner\.environments\.dev\.aws\.sessionDurationSeconds/],
    ['RegionDisabledException', 'config', /mlspanner\.environments\.dev\.aws\.region/],
    ['Throttling', 'service', /Retry/],
  ];
  for (const [code, kind, action] of errors) {
    it(`maps ${code} to an actionable ${kind} error`, () => {
      const e = awsError({ environment: 'dev', roleArn: 'arn:aws:iam::123456789012:role/r' }, 400, { code, message: 'm' });
      assert.equal(e.kind, kind);
      assert.equal(e.message, `AWS STS refused to assume arn:aws:iam::123456789012:role/r for "dev": ${code}: m`);
      assert.match(e.action ?? '', action);
    });
  }
});

describe('AWS STS hostile answers', () => {
  it('an attribute named __proto__ or constructor is an attribute, not a prototype', () => {
    const el = parseXml('<a __proto__="x" constructor="y" polluted="z"/>');
    assert.equal(el.attributes['__proto__'], 'x');
    assert.equal(el.attributes['constructor'], 'y');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('a character reference that is no character is a syntax error, not a RangeError', () => {
    for (const ref of ['&#x110000;', '&#0;', '&#xD800;', '&#99999999999;']) {
      assert.throws(() => parseXml(`<a>${ref}</a>`), /is not a character/, ref);
      assert.throws(() => parseAssumeRoleWithWebIdentityResponse(`<AssumeRoleWithWebIdentityResponse>${ref}</AssumeRoleWithWebIdentityResponse>`), (e: unknown) => e instanceof UserFacingError && e.kind === 'protocol');
    }
  });

  it('an error <Message> that echoes the web identity token never reaches the message', async () => {
    const { assumeAwsRole } = await import('../../src/core/credentials/assumeAwsRole');
    const token = 'eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJhZGEiLCJhdWQiOiJzdHMifQ.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU';
    for (const echoed of [token, token.slice(0, 30), token.split('.')[1]]) {
      const body = `<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>Couldn't parse the token ${echoed} (bad)</Message></Error></ErrorResponse>`;
      const http = (() => ({ post: async () => ({ status: 400, data: body }) })) as unknown as Parameters<typeof assumeAwsRole>[0];
      const e = await assumeAwsRole(http, { environment: 'dev', stsEndpoint: 'https://sts.amazonaws.com', roleArn: 'arn:aws:iam::123456789012:role/r', roleSessionName: 'ada', webIdentityToken: token, durationSeconds: 900, now: 0 }).then(
        () => assert.fail('expected a rejection'),
        (err: unknown) => err,
      );
      assert.ok(e instanceof UserFacingError);
      assert.equal(e.kind, 'auth');
      assert.match(e.message, /InvalidIdentityToken: Couldn't parse the token .*\(bad\)/);
      for (const piece of [token, token.slice(0, 20), token.split('.')[1].slice(0, 20)]) assert.ok(!e.display.includes(piece), `${echoed.slice(0, 10)}… leaked`);
    }
  });
});

describe('AWS request parameters', () => {
  const durations: [number, number | undefined, number][] = [
    [3600, undefined, 3600],
    [600, undefined, 900],
    [3600, 1200, 1200],
    [1200, 3600, 1200],
    [43_200, undefined, 43_200],
  ];
  for (const [maxTtl, session, expected] of durations)
    it(`DurationSeconds for maxTtl ${maxTtl}, session ${session} → ${expected}`, () => assert.equal(awsDurationSeconds(maxTtl, session), expected));

  const names: [string, string][] = [
    ['alice@example.com', 'alice@example.com'],
    ['00u1ab/cd ef', '00u1ab-cd-ef'],
    ['x', 'mlspanner-x'],
    ['a'.repeat(80), 'a'.repeat(64)],
    ['auth0|123', 'auth0-123'],
  ];
  for (const [subject, expected] of names) {
    it(`RoleSessionName for ${subject.slice(0, 20)} → ${expected.slice(0, 20)}`, () => {
      assert.equal(roleSessionName(subject), expected);
      assert.match(roleSessionName(subject), /^[\w+=,.@-]{2,64}$/);
    });
  }
});
