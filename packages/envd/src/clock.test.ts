// The clock setter's failure paths (a real set would move this host's clock, so the VM tests cover that:
// host-agent's "guest clock within 1 s after a 10 s pause").
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ClockSetter } from './clock.js';

test('a setter that cannot start fails the set instead of hanging, and can be retried', async () => {
  const setter = new ClockSetter('/nonexistent/perl');
  await assert.rejects(setter.set(Date.now()), /cannot run \/nonexistent\/perl/);
  await assert.rejects(setter.set(Date.now()), /cannot run \/nonexistent\/perl/);
  setter.close();
});

test('a setter that exits fails the set it was given', async () => {
  const setter = new ClockSetter('/bin/false');
  await assert.rejects(setter.set(Date.now()), /exited|input broke/);
  setter.close();
});
