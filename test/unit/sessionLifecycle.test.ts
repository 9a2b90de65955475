import { strict as assert } from 'node:assert';
import type { IdentitySession } from '../../src/core/auth/IdentitySession';
import { SessionLifecycle, environmentsMessage } from '../../src/core/auth/SessionLifecycle';

const who = (subject: string, issuer = 'https://idp.example.com') => ({ issuer, subject, name: subject }) as IdentitySession;

describe('session lifecycle', () => {
  function setup() {
    const calls: string[] = [];
    const lc = new SessionLifecycle({
      signedOut: (reason) => calls.push(`out:${reason ?? ''}`),
      signedIn: (s, first) => calls.push(`in:${s.subject}:${first}`),
      userChanged: (from, to) => calls.push(`changed:${from}>${to}`),
    });
    return { lc, calls };
  }

  it('reacts to edges only: sign-in once, sign-out once, resume once per user and window', () => {
    const { lc, calls } = setup();
    lc.update({ kind: 'signedOut' }); // never signed in: nothing to forget
    lc.update({ kind: 'signingIn' });
    lc.update({ kind: 'signedIn', session: who('alice') });
    lc.update({ kind: 'signedIn', session: who('alice'), refreshError: 'x' }); // same user: no edge
    lc.update({ kind: 'signedOut', reason: 'refresh refused' });
    lc.update({ kind: 'signedOut' });
    lc.update({ kind: 'signedIn', session: who('alice') });
    lc.update({ kind: 'signedIn', session: who('bob') });
    assert.deepEqual(calls, ['in:alice:true', 'out:refresh refused', 'in:alice:false', 'changed:https://idp.example.com|alice>https://idp.example.com|bob', 'in:bob:true']);
    assert.equal(lc.currentUser, 'https://idp.example.com|bob');
  });

  it('the same subject at another provider is another user', () => {
    const { lc, calls } = setup();
    lc.update({ kind: 'signedIn', session: who('alice') });
    lc.update({ kind: 'signedIn', session: who('alice', 'https://other.example.com') });
    assert.equal(calls.filter((c) => c.startsWith('in:')).length, 2);
  });

  it('shows a message only for a failed refresh: signed-out and signing-in states have their welcome views', () => {
    assert.equal(environmentsMessage({ kind: 'signedOut', reason: 'The identity provider settings changed.' }), undefined);
    assert.equal(environmentsMessage({ kind: 'signingIn' }), undefined);
    assert.equal(environmentsMessage({ kind: 'signedIn', session: who('a'), refreshError: 'offline' }), 'Session refresh failed: offline');
  });
});
