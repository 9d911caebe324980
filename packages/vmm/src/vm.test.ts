import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ensureImage, type Image } from '@amber/image';
import { pino } from 'pino';
import { detectAccel } from './accel.js';
import { VmmError } from './errors.js';
import { Vm } from './vm.js';
import type { VmSpec } from './vm-spec.js';

const log = pino({ level: process.env.AMBER_LOG_LEVEL ?? 'silent' });
let image: Image;
let work: string;
const memoryFiles: string[] = [];

before(async () => {
  image = (await ensureImage()).image;
  work = await mkdtemp(join(tmpdir(), 'vmm-test-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
  for (const f of memoryFiles) await rm(f, { force: true });
});

function spec(name: string, overrides: Partial<VmSpec> = {}): VmSpec {
  const runDir = join(work, name);
  const memoryFile = `/dev/shm/amber-vmm-test-${process.pid}-${name}`;
  memoryFiles.push(memoryFile);
  const disk = join(work, `${name}.qcow2`);
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', image.rootfs, '-F', 'raw', disk]);
  return {
    runDir,
    vcpus: 1,
    memoryMib: 256,
    kernel: image.kernel,
    initrd: image.initrd,
    cmdline: 'console=ttyS0 quiet mitigations=off tsc=reliable no_timer_check panic=-1',
    disk: { path: disk, format: 'qcow2' },
    memoryFile,
    accel: detectAccel(),
    ...overrides,
  };
}

async function waitForConsole(vm: Vm, pattern: RegExp, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await vm.consoleTail(20_000);
    if (pattern.test(text)) return text;
    if (!vm.running) throw new Error(`VM exited before ${pattern}: ${text}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}: ${text}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('Vm', () => {
  test('boots the image to the guest agent (then idle), stops, continues and quits; QEMU is reaped', async () => {
    const vm = await Vm.launch(spec('boot'), { log });
    try {
      // Generous: on a loaded 2-core host a TCG boot can take minutes; only a guest that never gets there fails.
      await waitForConsole(vm, /envd: listening/, 300_000);
      assert.equal(await vm.waitIdle({ quietMs: 20, maxMs: 120_000 }), true, 'a booted guest goes idle');
      assert.equal(await vm.status(), 'running');
      await vm.pause();
      assert.equal(await vm.status(), 'paused');
      await vm.resume();
      assert.equal(await vm.status(), 'running');
    } finally {
      await vm.quit();
    }
    assert.equal(vm.running, false);
    assert.throws(() => process.kill(vm.pid, 0), { code: 'ESRCH' });
  });

  test('a guest spinning in a loop is busy, and idle once stopped', async () => {
    // Instead of the initramfs' /init, busybox runs an endless loop (the kernel passes what follows "--"
    // to init): a guest that is busy by construction, not by the luck of looking during its boot. Boot
    // itself has idle moments, so the test waits until three looks in a row see it busy — which only a
    // guest that never stops can guarantee — then stops it: a stopped guest must look idle.
    const base = spec('spin').cmdline;
    const vm = await Vm.launch(
      spec('spin', { cmdline: `${base} rdinit=/bin/busybox -- sh -c "while :; do :; done"` }),
      { log },
    );
    try {
      let busyInARow = 0;
      while (busyInARow < 3) {
        assert.ok(vm.running, 'the spinning guest keeps running');
        busyInARow = (await vm.waitIdle({ quietMs: 20, maxMs: 300 })) ? 0 : busyInARow + 1;
      }
      await vm.pause();
      assert.equal(await vm.waitIdle({ quietMs: 20, maxMs: 120_000 }), true, 'a stopped guest is idle');
    } finally {
      await vm.quit();
    }
  });

  test('a missing QEMU binary is a qemu_not_found error', async () => {
    await assert.rejects(
      Vm.launch(spec('nobinary'), { log, qemuBinary: '/nonexistent/qemu' }),
      (err: unknown) => {
        assert.ok(err instanceof VmmError);
        assert.equal(err.code, 'qemu_not_found');
        return true;
      },
    );
  });

  test('a bad kernel fails the start with the tail of QEMU stderr', async () => {
    const badKernel = join(work, 'not-a-kernel');
    await writeFile(badKernel, 'this is not a kernel');
    await assert.rejects(Vm.launch(spec('badkernel', { kernel: badKernel }), { log }), (err: unknown) => {
      assert.ok(err instanceof VmmError);
      assert.equal(err.code, 'qemu_exited');
      assert.match(err.message, /qemu stderr/);
      assert.match(err.message, /kernel/i);
      return true;
    });
  });

  test('a QMP socket held by someone else is refused instead of stolen', async () => {
    const s = spec('busy');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(s.runDir, { recursive: true });
    const holder = createServer().listen(join(s.runDir, 'qmp.sock'));
    try {
      await assert.rejects(Vm.launch(s, { log }), (err: unknown) => {
        assert.ok(err instanceof VmmError);
        assert.equal(err.code, 'qemu_start_failed');
        assert.match(err.message, /in use/);
        return true;
      });
    } finally {
      holder.close();
    }
  });

  test('invalid specs are rejected before QEMU starts', async () => {
    await assert.rejects(Vm.launch(spec('zero', { vcpus: 0 }), { log }), { code: 'invalid_spec' });
    await assert.rejects(Vm.launch(spec('tiny', { memoryMib: 0 }), { log }), { code: 'invalid_spec' });
  });
});
