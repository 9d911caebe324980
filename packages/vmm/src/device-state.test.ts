// Real QEMUs: a device state saved with an HPET is told apart from one saved without, and loads only
// into a VM that has one, which is why a restore must know (the HPET is off by default: vm-spec.ts).
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ensureImage, type Image } from '@amber/image';
import { pino } from 'pino';
import { detectAccel } from './accel.js';
import { deviceStateHasHpet } from './device-state.js';
import { VmmError } from './errors.js';
import { Vm } from './vm.js';
import type { VmSpec } from './vm-spec.js';
import { loadStateFile, saveStateFile } from './vm-state.js';

const log = pino({ level: process.env.AMBER_LOG_LEVEL ?? 'silent' });
let image: Image;
let work: string;
const vms: Vm[] = [];

before(async () => {
  image = (await ensureImage()).image;
  work = await mkdtemp(join(tmpdir(), 'vmm-device-state-test-'));
});
after(async () => {
  for (const vm of vms) await vm.kill().catch(() => undefined);
  await rm(work, { recursive: true, force: true });
  for (const hpet of [true, false]) await rm(memoryFile(hpet), { force: true });
});

function memoryFile(hpet: boolean): string {
  return `/dev/shm/amber-vmm-device-state-test-${process.pid}-${hpet}`;
}

function spec(name: string, hpet: boolean, incoming = false): VmSpec {
  return {
    runDir: join(work, name),
    vcpus: 1,
    memoryMib: 128,
    kernel: image.kernel,
    initrd: image.initrd,
    cmdline: 'console=ttyS0 quiet panic=-1 rdinit=/bin/busybox -- sh -c "echo up; while :; do sleep 1; done"',
    disk: { placeholderBytes: 1 << 20 },
    memoryFile: memoryFile(hpet),
    accel: detectAccel(),
    ...(hpet && { hpet }),
    ...(incoming && { incoming }),
  };
}

async function launch(vmSpec: VmSpec): Promise<Vm> {
  const vm = await Vm.launch(vmSpec, { log });
  vms.push(vm);
  return vm;
}

/** Boots a guest to its shell, stops it and saves its device state (guest RAM stays in its file). */
async function saved(hpet: boolean): Promise<string> {
  const vm = await launch(spec(`boot-${hpet}`, hpet));
  for (let i = 0; !/up/.test(await vm.consoleTail()); i++) {
    assert.ok(i < 600, 'the guest did not reach its shell in 60 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  await vm.pause();
  const path = join(work, `devices-${hpet}.state`);
  await saveStateFile(vm, path, { ignoreShared: true });
  await vm.kill();
  return path;
}

test('an HPET in a saved device state is found, and that state loads only into a VM with one', async () => {
  const [withHpet, without] = await Promise.all([saved(true), saved(false)]);
  assert.equal(await deviceStateHasHpet(withHpet), true);
  assert.equal(await deviceStateHasHpet(without), false);

  const lacking = await launch({ ...spec('restore-lacking', false, true), memoryFile: memoryFile(true) });
  // QEMU gives up on the stream and exits.
  await assert.rejects(loadStateFile(lacking, withHpet, { ignoreShared: true }), VmmError);
  assert.match(await readFile(join(work, 'restore-lacking', 'qemu.log'), 'utf8').catch(() => ''), /hpet/);
  await lacking.kill();

  const matching = await launch(spec('restore-matching', true, true));
  await loadStateFile(matching, withHpet, { ignoreShared: true });
  await matching.resume();
  assert.equal(await matching.status(), 'running');
});
