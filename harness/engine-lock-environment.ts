import { TestEnvironment } from 'jest-environment-node';
import { ENGINE_LOCK_GLOBAL, EngineLock } from './engine-lock';

/**
 * The contract and e2e suites' test environment: Node's, holding the engine lock shared (harness/engine-lock.ts)
 * from before a test file's first hook until after its last, so a test that needs the engine to itself waits for
 * every file's own clean-up too.
 */
export default class EngineLockEnvironment extends TestEnvironment {
  private readonly lock = new EngineLock(process.env.MODULUS_ENGINE_LOCK);

  async setup(): Promise<void> {
    await super.setup();
    await this.lock.hold('shared');
    this.global[ENGINE_LOCK_GLOBAL] = this.lock;
  }

  async teardown(): Promise<void> {
    await this.lock.release();
    await super.teardown();
  }
}
