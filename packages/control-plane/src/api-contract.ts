import { after, before, describe } from 'node:test';
import { basicsContract } from './test-support/contract-basics.js';
import { envdContract } from './test-support/contract-envd.js';
import { policiesContract } from './test-support/contract-policies.js';
import { sandboxesContract } from './test-support/contract-sandboxes.js';
import { type Harness, startHarness } from './test-support/harness.js';
import { startTestPostgres, type TestPostgres } from './test-support/postgres.js';

/**
 * The one contract every database implementation must pass: the whole API over real HTTP with a real
 * agent and real VMs. One control plane per run keeps the VM count low.
 */
export function apiContract(database: 'sqlite' | 'postgres'): void {
  describe(`REST API on ${database}`, { timeout: 60 * 60_000 }, () => {
    let harness: Harness | undefined;
    let postgres: TestPostgres | undefined;
    const state: { id?: string } = {};
    before(async () => {
      if (database === 'postgres') postgres = await startTestPostgres();
      harness = await startHarness({
        ...(postgres && { databaseUrl: postgres.url }),
        policyIntervalMs: 250,
        reconcileIntervalMs: 3_600_000,
        unknownGraceMs: 1000,
      });
    });
    after(async () => {
      await harness?.stop();
      await postgres?.stop();
    });
    const h = () => {
      if (!harness) throw new Error('the control plane did not start');
      return harness;
    };
    basicsContract(h);
    sandboxesContract(h, state);
    envdContract(h, state);
    policiesContract(h, state);
  });
}
