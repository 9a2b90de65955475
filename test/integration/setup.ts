import { startSandbox, type Sandbox } from '../../sandbox';

/**
 * Mocha root hooks: one sandbox (IdP on 127.0.0.2, emulators on 127.0.0.1, free ports) for the
 * whole integration run. Token lifetimes stay at the defaults; tests that need expiry shorten
 * them with their own IdP or a fake clock.
 */

let current: Sandbox | undefined;

export function sandbox(): Sandbox {
  if (!current) throw new Error('the integration sandbox is not running (is test/integration/setup.ts loaded as a root hook?)');
  return current;
}

export const mochaHooks = {
  async beforeAll(this: Mocha.Context): Promise<void> {
    this.timeout(30_000);
    current = await startSandbox({ quiet: process.env.MLSPANNER_SANDBOX_VERBOSE !== '1' });
  },
  async afterAll(this: Mocha.Context): Promise<void> {
    const s = current;
    current = undefined;
    await s?.close();
  },
};
