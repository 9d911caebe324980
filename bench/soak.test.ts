// The soak, short: CI runs it as part of `npm test` (26 cycles: restarts at 10 and 20, a SIGKILL at 25).
// `npm run soak` runs 1000.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(import.meta.url), '../..');

test('a short soak: every cycle keeps the sequence, the writer and the files', async () => {
  const child = spawn(process.execPath, ['--conditions=amber-source', '--import', 'tsx', 'bench/soak.ts'], {
    cwd: root,
    env: { ...process.env, AMBER_SOAK_CYCLES: '26' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  const metrics = new Map(
    stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { metric: string; value: number })
      .map((m) => [m.metric, m.value]),
  );
  assert.equal(code, 0, `the soak failed:\n${stderr.slice(-4000)}`);
  assert.equal(metrics.get('soak_cycles'), 26);
  assert.equal(metrics.get('soak_failures'), 0);
});
