// Saving a real QEMU's device state the way the snapshot engine does: the migration settings come from the
// command line, and x-ignore-shared goes over QMP once per VM (QEMU keeps it across migrations).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ensureImage } from '@amber/image';
import { pino } from 'pino';
import { detectAccel } from './accel.js';
import { Vm } from './vm.js';
import type { VmSpec } from './vm-spec.js';
import { saveStateFile } from './vm-state.js';

const MEMORY_MIB = 128;
let work: string;
let spec: VmSpec;
let vm: Vm;

before(async () => {
  const { image } = await ensureImage();
  work = await mkdtemp(join(tmpdir(), 'vmm-state-test-'));
  const disk = join(work, 'disk.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '16M']);
  spec = {
    runDir: join(work, 'run'),
    vcpus: 1,
    memoryMib: MEMORY_MIB,
    kernel: image.kernel,
    initrd: image.initrd,
    cmdline: 'console=ttyS0 quiet panic=-1 rdinit=/bin/busybox -- sh -c "while :; do sleep 1; done"',
    disk: { path: disk, format: 'qcow2' },
    memoryFile: `/dev/shm/amber-vmm-state-test-${process.pid}`,
    accel: detectAccel(),
  };
  vm = await Vm.launch(spec, { log: pino({ level: 'silent' }) });
});

after(async () => {
  await vm?.kill().catch(() => undefined);
  if (work) await rm(work, { recursive: true, force: true });
  if (spec) await rm(spec.memoryFile, { force: true });
});

test('migration settings are on the command line; x-ignore-shared is sent once and leaves guest RAM out', async () => {
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
    const path = join(work, `devices-${round}.state`);
    await saveStateFile(vm, path, { ignoreShared: true });
    // The guest's RAM (128 MiB, the kernel and initramfs in it) would be tens of MiB; device state is ~1.
    assert.ok((await stat(path)).size < 4 * 1024 * 1024, `round ${round}: ${(await stat(path)).size} bytes`);
    await vm.resume();
  }
  assert.equal(await capability('x-ignore-shared'), true);
  assert.deepEqual(
    sent.filter((c) => c.startsWith('migrate-set')),
    ['migrate-set-capabilities'],
    'one capability command for two saves, no parameters',
  );
});
