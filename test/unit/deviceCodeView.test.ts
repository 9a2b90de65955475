import * as assert from 'node:assert/strict';
import { deviceCodeView } from '../../src/core/access/environmentView';

describe('Environments view during a device-code sign-in', () => {
  it('shows the code, where to enter it and the three actions as rows with commands', () => {
    const now = Date.parse('2026-12-01T12:00:00Z');
    const rows = deviceCodeView({ userCode: 'WDJB-MJHT', verificationUri: 'https://login.example.com/activate', expiresAt: now + 15 * 60_000 }, now);
    assert.deepEqual(
      rows.map((r) => [r.label, r.description, r.command?.command]),
      [
        ['WDJB-MJHT', 'your sign-in code · valid 15 min', 'mlspanner.copySignInUrl'],
        ['Open Sign-In Page', 'login.example.com', 'mlspanner.openSignInPageAgain'],
        ['Copy Code', undefined, 'mlspanner.copySignInUrl'],
        ['Cancel Sign-In', undefined, 'mlspanner.cancelSignIn'],
      ],
    );
    assert.match((rows[0].tooltip ?? '').replace(/\\/g, ''), /WDJB-MJHT.*https:\/\/login\.example\.com\/activate/);
  });

  it('an odd verification URI is shown as given, and a code without expiry has no validity', () => {
    const rows = deviceCodeView({ userCode: 'X', verificationUri: 'not a url' }, 0);
    assert.equal(rows[0].description, 'your sign-in code');
    assert.equal(rows[1].description, 'not a url');
  });
});
