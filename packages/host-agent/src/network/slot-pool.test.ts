// The network slot pool on real namespaces.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { after, test } from 'node:test';
import { pino } from 'pino';
import { destroyNetworkSlot, namespacePrefix } from './network-slot.js';
import { NetworkSlotPool } from './slot-pool.js';

const prefix = namespacePrefix(`/nonexistent/amber-slot-pool-test-${process.pid}`);
const ours = () => readdirSync('/run/netns').filter((name) => name.startsWith(prefix));
after(async () => {
  for (const name of ours()) await destroyNetworkSlot(name);
});

test('slots are made ahead, handed out once each, refilled, and removed on close', async () => {
  const pool = new NetworkSlotPool(prefix, 2, pino({ level: 'silent' }));
  await pool.fill();
  assert.equal(pool.readyCount, 2);
  assert.equal(ours().length, 2);

  const a = await pool.take();
  const b = await pool.take();
  const c = await pool.take(); // the pool is empty: made on the spot
  assert.equal(new Set([a.netns, b.netns, c.netns]).size, 3, 'no slot is handed out twice');
  for (const slot of [a, b, c]) {
    assert.ok(slot.netns.startsWith(prefix));
    assert.ok(existsSync(slot.nsPath), `${slot.nsPath} exists`);
  }
  await pool.fill();
  assert.equal(pool.readyCount, 2, 'refilled after the takes');

  await pool.close();
  assert.deepEqual(ours().sort(), [a.netns, b.netns, c.netns].sort(), 'close removes only the unused slots');
  for (const slot of [a, b, c]) await destroyNetworkSlot(slot.netns);
  assert.deepEqual(ours(), []);
});
