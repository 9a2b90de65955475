import { strict as assert } from 'node:assert';
import { redact, looksLikeToken } from '../../src/core/redact';
import { errorMessage, UserFacingError } from '../../src/core/errors';

describe('redact', () => {
  const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6MX0.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
  const cases: Array<[string, string]> = [
    ['a JWT', `token ${jwt} here`],
    ['a Databricks PAT', 'dapi0123456789abcdef0123456789abcdef'],
    ['a Google access token', 'ya29.a0AfH6SMBexampleexampleexample'],
    ['an AWS key id', 'ASIAABCDEFGHIJKLMNOP'],
    ['a bearer header', 'Authorization: Bearer abcdefghijklmnop'],
    ['a form field', 'grant_type=refresh_token&refresh_token=opaque-refresh-value-123'],
    ['a JSON field', '{"access_token":"opaque-access-value-123"}'],
  ];
  for (const [what, text] of cases) {
    it(`removes ${what}`, () => {
      const out = redact(text);
      assert.ok(!out.includes('opaque-') && !out.includes(jwt) && !/dapi0123456789abcdef0123/.test(out), out);
      assert.match(out, /redacted/);
    });
  }
  it('keeps ordinary text', () => {
    assert.equal(redact('job train-churn-model finished in staging'), 'job train-churn-model finished in staging');
  });
  it('detects token-shaped text', () => {
    assert.ok(looksLikeToken(jwt));
    assert.ok(!looksLikeToken('hello world'));
  });
});

describe('errorMessage', () => {
  it('never returns {} for plain objects', () => {
    assert.equal(errorMessage({}), 'Unknown error (no details were given).');
    assert.equal(errorMessage({ error: 'invalid_grant', error_description: 'grant revoked' }), 'grant revoked');
  });
  it('joins message and action of user-facing errors', () => {
    assert.equal(errorMessage(new UserFacingError('auth', 'Session expired.', 'Sign in again.')), 'Session expired. Sign in again.');
  });
});
