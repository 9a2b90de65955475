import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { awsError } from '../../../src/core/credentials/assumeAwsRole';
import { parseAssumeRoleWithWebIdentityResponse, parseAwsError, parseXml, XmlSyntaxError } from '../../../src/core/credentials/awsStsXml';
import { UserFacingError } from '../../../src/core/errors';
import { ASSUME_ROLE_XML } from '../credentials.xml.test';
import { assertNoPollution, HOSTILE_KEYS, onlyUserFacing, RUNS } from './arbitraries';

/** XML-ish text: well-formed pieces, broken pieces and markup the parser must refuse. */
const xmlName = fc.oneof(fc.constantFrom(...HOSTILE_KEYS.filter(Boolean), 'Error', 'Code', 'Message', 'a:b', 'x-y', '1bad', ''), fc.stringMatching(/^[A-Za-z_][\w.-]{0,8}$/));
const text = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.constantFrom('&amp;', '&lt;', '&bogus;', '&#0;', '&#x110000;', '&#xD800;', '&#65;', '&#x1F600;', '&#99999999999999999999;', ']]>', '&', '<![CDATA[x]]>', '<!DOCTYPE x [<!ENTITY e "e">]>', '<?pi?>', '<!-- c -->', '<!--'),
  fc.integer({ min: 0, max: 0x10ffff + 10 }).map((n) => `&#${n};`),
);
const xml: fc.Arbitrary<string> = fc.letrec<{ node: string }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small' },
    text,
    fc
      .tuple(xmlName, fc.array(fc.tuple(xmlName, fc.string({ maxLength: 8 })), { maxLength: 3 }), fc.array(tie('node'), { maxLength: 4 }), fc.boolean(), xmlName)
      .map(([n, attrs, children, matching, other]) => `<${n}${attrs.map(([k, v]) => ` ${k}="${v.replace(/"/g, '')}"`).join('')}>${children.join('')}</${matching ? n : other}>`),
    fc.tuple(xmlName, fc.array(fc.tuple(xmlName, fc.string({ maxLength: 8 })), { maxLength: 3 })).map(([n, attrs]) => `<${n}${attrs.map(([k, v]) => ` ${k}='${v.replace(/'/g, '')}'`).join('')}/>`),
  ),
})).node;

/** The documented response with a few characters deleted, inserted or replaced. */
const mutatedResponse = fc
  .array(fc.tuple(fc.nat({ max: ASSUME_ROLE_XML.length }), fc.nat({ max: 8 }), fc.string({ maxLength: 6 })), { minLength: 1, maxLength: 4 })
  .map((edits) => edits.reduce((s, [at, drop, insert]) => s.slice(0, at) + insert + s.slice(at + drop), ASSUME_ROLE_XML));

describe('property: AWS STS XML', () => {
  afterEach(assertNoPollution);

  it('parseXml returns an element or throws XmlSyntaxError, for any text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), xml, mutatedResponse), (input) => {
        try {
          const el = parseXml(input);
          assert.equal(typeof el.name, 'string');
        } catch (e) {
          if (!(e instanceof XmlSyntaxError)) throw e;
        }
      }),
      RUNS,
    );
  });

  it('attributes are own properties: __proto__ and constructor are attributes like any other', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('__proto__', 'constructor', 'toString', 'polluted', 'a'), fc.stringMatching(/^[a-z]{0,6}$/)), { maxLength: 5 }), (attrs) => {
        const unique = [...new Map(attrs).entries()];
        const el = parseXml(`<e ${unique.map(([k, v]) => `${k}="${v}"`).join(' ')}/>`);
        for (const [k, v] of unique) assert.equal(Object.getOwnPropertyDescriptor(el.attributes, k)?.value, v);
        assert.equal(Object.keys(el.attributes).length, unique.length);
      }),
      RUNS,
    );
  });

  it('parseAssumeRoleWithWebIdentityResponse returns a session or a protocol UserFacingError', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutatedResponse, xml, fc.string({ maxLength: 100 })), async (input) => {
        const session = await onlyUserFacing(() => parseAssumeRoleWithWebIdentityResponse(input));
        if (session) {
          assert.ok(session.accessKeyId && session.secretAccessKey && session.sessionToken && session.assumedRoleArn);
          assert.ok(Number.isFinite(session.expiration));
        }
      }),
      RUNS,
    );
  });

  it('a refused answer is always a UserFacingError whose message carries no JWT', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
    fc.assert(
      fc.property(fc.oneof(xml, mutatedResponse), fc.string({ maxLength: 20 }), fc.string({ maxLength: 20 }), fc.integer({ min: 100, max: 599 }), (noise, code, before, status) => {
        const doc = `<ErrorResponse><Error><Code>${code.replace(/[<&]/g, '') || 'X'}</Code><Message>${before.replace(/[<&]/g, '')} ${jwt} ${noise.length}</Message></Error></ErrorResponse>`;
        for (const body of [doc, noise]) {
          const parsed = parseAwsError(body);
          const e = awsError({ environment: 'dev', roleArn: 'arn:aws:iam::123456789012:role/r' }, status, parsed);
          assert.ok(e instanceof UserFacingError);
          assert.ok(!e.display.includes(jwt), e.display);
        }
      }),
      RUNS,
    );
  });
});
