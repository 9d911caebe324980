// The VM pool on real QEMUs: `vmPoolDepth` launched ahead per shape, each within the memory budget, each
// taken once, and none left running after close.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { newGuestMachine, type VmShape } from './guest-vm.js';
import { MemoryBudget } from './memory-budget.js';
import { POOLED_QEMU_MIB } from './qemu-overhead.js';
import { startTestAgent, type TestAgent } from './test-support/test-agent.js';
import { discardPooled, type PooledVm, poolPaths, VmPool } from './vm-pool.js';

let t: TestAgent;
let shape: VmShape;
before(async () => {
  // The agent's own pool is off: the tests below drive pools of their own on its network slots.
  t = await startTestAgent({ vmPoolShapes: 0 });
  shape = { vcpus: 1, memoryMib: 256, image: t.agent.manager.image, ...newGuestMachine(t.agent.config) };
});
after(async () => {
  await t?.stop();
});

function newPool(budget: MemoryBudget, vmPoolDepth = 2) {
  const config = { ...t.agent.config, vmPoolShapes: 2, vmPoolDepth };
  return new VmPool(config, t.agent.manager.slots, pino({ level: 'silent' }), budget, 2);
}

async function until(check: () => boolean, what: string) {
  const deadline = Date.now() + 120_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const alive = (pooled: PooledVm) => pooled.vm.running && pooled.pager.state === 'parked';

test("two VMs wait per shape; back-to-back takes both get one; a restore's end launches two again", async () => {
  const budget = new MemoryBudget(4096);
  const pool = newPool(budget);
  const taken: PooledVm[] = [];
  try {
    pool.prepare(shape);
    assert.equal(budget.heldMib, 2 * POOLED_QEMU_MIB, 'two pooled QEMUs hold the budget from their launch');
    await until(() => pool.readyCount(shape) === 2, 'two VMs are ready');
    const first = await pool.take(shape);
    const second = await pool.take(shape);
    assert.ok(first && second, 'both takes found a VM');
    taken.push(first, second);
    assert.notEqual(first.vm.pid, second.vm.pid);
    assert.ok(alive(first) && alive(second), 'both are running QEMUs with parked pagers');
    assert.equal(budget.heldMib, 0, 'a taken VM gives its hold back (its restore reserves the full share)');

    pool.restored(shape);
    assert.equal(budget.heldMib, 2 * POOLED_QEMU_MIB, 'the refill holds for two at once');
    // A take while both launch waits for the first of them instead of returning empty-handed.
    const third = await pool.take(shape);
    assert.ok(third && alive(third), 'a take waits for a launching VM');
    taken.push(third);
  } finally {
    await pool.close();
    for (const pooled of taken) await discardPooled(pooled);
  }
  assert.equal(budget.heldMib, 0, 'close gives back every hold');
  for (const pooled of taken) assert.equal(existsSync(pooled.vm.spec.runDir), false);
});

test('the pool launches only what the budget has room for, and close ends what it launched', async () => {
  const budget = new MemoryBudget(POOLED_QEMU_MIB + 10);
  const pool = newPool(budget);
  pool.prepare(shape);
  assert.equal(budget.heldMib, POOLED_QEMU_MIB, 'room for one pooled QEMU, not two');
  const pooled = await pool.take(shape);
  assert.ok(pooled && alive(pooled));
  // Still launching when the pool closes: close waits for it and ends it (the agent's stop checks no
  // QEMU, namespace or run dir is left).
  pool.restored(shape);
  assert.equal(budget.heldMib, POOLED_QEMU_MIB);
  await pool.close();
  await discardPooled(pooled);
  assert.equal(budget.heldMib, 0);
  assert.equal(await pool.take(shape), undefined, 'a closed pool has nothing');
});

test('a drained pool relaunches two while restores run, and fills to its depth once they are quiet', async () => {
  const budget = new MemoryBudget(4096);
  const pool = newPool(budget, 4);
  const taken: PooledVm[] = [];
  try {
    pool.prepare(shape);
    await until(() => pool.readyCount(shape) === 4, 'four VMs are ready');
    for (let i = 0; i < 4; i++) {
      const pooled = await pool.take(shape);
      assert.ok(pooled, `take ${i + 1} found a VM`);
      taken.push(pooled);
    }
    // A burst of four on two cores: nothing is launched while restores take both.
    pool.restored(shape);
    pool.restored(shape);
    assert.equal(budget.heldMib, 0, 'no launch while two restores still run');
    pool.restored(shape);
    assert.equal(budget.heldMib, 2 * POOLED_QEMU_MIB, 'two relaunched once a core is free');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(budget.heldMib, 2 * POOLED_QEMU_MIB, 'no more while one restore still runs');
    pool.restored(shape);
    assert.equal(budget.heldMib, 2 * POOLED_QEMU_MIB, 'the rest waits for restores to be quiet');
    await until(() => pool.readyCount(shape) === 4, 'the pool is back to its depth');
    assert.equal(budget.heldMib, 4 * POOLED_QEMU_MIB);
    // A restore that starts within the quiet time puts the fill off until it ends.
    const first = await pool.take(shape);
    pool.restored(shape);
    const second = await pool.take(shape);
    assert.ok(first && second);
    taken.push(first, second);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(pool.readyCount(shape), 2, 'no fill while the second restore runs');
    pool.restored(shape);
    await until(() => pool.readyCount(shape) === 4, 'the pool is back to its depth after the second');
  } finally {
    await pool.close();
    for (const pooled of taken) await discardPooled(pooled);
  }
  assert.equal(budget.heldMib, 0, 'close gives back every hold');
});

test('close waits for the VMs the pool let go in the background', async () => {
  const pool = newPool(new MemoryBudget(4096));
  const resized = (memoryMib: number): VmShape => ({ ...shape, memoryMib });
  pool.prepare(shape);
  await until(() => pool.readyCount(shape) === 2, 'two VMs are ready');
  // Two newer shapes push the first out of the pool's two; a take launches nothing itself.
  assert.equal(await pool.take(resized(320)), undefined);
  assert.equal(await pool.take(resized(384)), undefined);
  assert.equal(pool.readyCount(shape), 0, "the first shape's VMs were let go");
  await pool.close();
  // Each discard removes its VM's run dir last: none may be left when close returns.
  const dir = poolPaths(t.agent.config).dir;
  assert.deepEqual(
    existsSync(dir) ? readdirSync(dir) : [],
    [],
    'the let-go VMs were ended before close returned',
  );
});
