// Real QEMUs: what a saved device state needs of the VM that loads it. Its machine type is read back by
// its versioned name, and a VM of another type cannot load it; a state saved with an HPET is told apart
// from one saved without, and loads only into a VM that has one (the HPET is off by default: vm-spec.ts).
// The migration settings come from QEMU's command line, and x-ignore-shared goes over QMP once per VM.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ensureImage, type Image } from '@amber/image';
import { pino } from 'pino';
import { detectAccel } from './accel.js';
import { resolveMachineType, savedMachine } from './device-state.js';
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
  for (const name of [true, false, 'settings'] as const) await rm(memoryFile(name), { force: true });
});

function memoryFile(name: boolean | 'settings'): string {
  return `/dev/shm/amber-vmm-device-state-test-${process.pid}-${name}`;
}

let states: Promise<{ withHpet: string; without: string }> | undefined;
/** Both device states, saved once for the tests below. */
function savedStates() {
  states ??= Promise.all([saved(true), saved(false)]).then(([withHpet, without]) => ({ withHpet, without }));
  return states;
}

async function refused(vmSpec: VmSpec, state: string, why: RegExp): Promise<void> {
  const vm = await launch(vmSpec);
  // QEMU gives up on the stream and exits.
  await assert.rejects(loadStateFile(vm, state, { ignoreShared: true }), VmmError);
  assert.match(await readFile(join(vmSpec.runDir, 'qemu.log'), 'utf8').catch(() => ''), why);
  await vm.kill();
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

test('the machine type is read back by its versioned name; a VM of another type cannot load the state', async () => {
  const { without } = await savedStates();
  const machine = await resolveMachineType('pc');
  assert.match(machine, /^pc-i440fx-\d+\.\d+$/);
  assert.deepEqual(await savedMachine(without), { machine, hpet: false });
  const older = execFileSync('qemu-system-x86_64', ['-machine', 'help'], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.split(/\s+/)[0] ?? '')
    .find((name) => name.startsWith('pc-i440fx-') && name !== machine);
  assert.ok(older, 'this QEMU has an older i440fx machine type');
  await refused({ ...spec('restore-older', false, true), machine: older }, without, /[Mm]achine type/);
  // Anything else is refused with a clear error, not misread.
  await assert.rejects(savedMachine(join(work, 'boot-false', 'qemu.log')), VmmError);
});

test('an HPET in a saved device state is found, and that state loads only into a VM with one', async () => {
  const { withHpet, without } = await savedStates();
  assert.equal((await savedMachine(withHpet)).hpet, true);
  assert.equal((await savedMachine(without)).hpet, false);
  await refused({ ...spec('restore-lacking', false, true), memoryFile: memoryFile(true) }, withHpet, /hpet/);

  const matching = await launch(spec('restore-matching', true, true));
  await loadStateFile(matching, withHpet, { ignoreShared: true });
  await matching.resume();
  assert.equal(await matching.status(), 'running');
});

test('migration settings are on the command line; x-ignore-shared is sent once and leaves guest RAM out', async () => {
  const vm = await launch({ ...spec('settings', false), memoryFile: memoryFile('settings') });
  const parameters = await vm.qmp.execute('query-migrate-parameters', {});
  assert.equal(parameters['max-bandwidth'], 1024 ** 4, 'no 128 MiB/s throttle on a file');
  assert.equal(parameters['announce-rounds'], 0, 'a restored guest announces nothing');
  const capability = async (name: string) =>
    (await vm.qmp.execute('query-migrate-capabilities', {})).find((c) => c.capability === name)?.state;
  assert.equal(await capability('events'), true, 'MIGRATION events, not polling');
  assert.equal(await capability('x-ignore-shared'), false);

  const execute = vm.qmp.execute.bind(vm.qmp);
  const sent: string[] = [];
  vm.qmp.execute = ((command, args, timeoutMs) => {
    sent.push(command);
    return execute(command, args, timeoutMs);
  }) as typeof vm.qmp.execute;
  for (const round of [1, 2]) {
    await vm.pause();
    const path = join(work, `settings-${round}.state`);
    await saveStateFile(vm, path, { ignoreShared: true });
    // With the guest's RAM (the kernel and initramfs are in it) the stream is ~30 MB; device state alone ~1.
    const { size } = await stat(path);
    assert.ok(size < 4 * 1024 * 1024, `round ${round}: ${size} bytes`);
    await vm.resume();
  }
  assert.equal(await capability('x-ignore-shared'), true);
  assert.deepEqual(
    sent.filter((c) => c.startsWith('migrate-set')),
    ['migrate-set-capabilities'],
    'one capability command for two saves, no parameters',
  );
});
