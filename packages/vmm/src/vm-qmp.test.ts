// One real QEMU, driven through QMP the ways the agent relies on beyond launch: a command that gets no
// reply in time, re-attaching to a running QEMU (adopt), and switching the disk to new overlays.
// The guest runs busybox in a sleep loop and never touches the disk, so every write seen comes from us.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ensureImage } from '@amber/image';
import { pino } from 'pino';
import { detectAccel } from './accel.js';
import { Vm } from './vm.js';
import type { VmSpec } from './vm-spec.js';

const log = pino({ level: process.env.AMBER_LOG_LEVEL ?? 'silent' });
/** The virtio-blk device's backend, for HMP's qemu-io (the device has no id of its own). */
const DISK_BACKEND = '/machine/peripheral-anon/device[0]/virtio-backend';

let work: string;
let layers: [string, string, string];
let spec: VmSpec;
let launched: Vm;
/** The Vm object currently holding the QMP connection (the launched one, then the adopted one). */
let current: Vm;

before(async () => {
  const { image } = await ensureImage();
  work = await mkdtemp(join(tmpdir(), 'vmm-qmp-test-'));
  layers = [0, 1, 2].map((i) => join(work, `layer${i}.qcow2`)) as [string, string, string];
  const disk = layers[0];
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '16M']);
  spec = {
    runDir: join(work, 'run'),
    vcpus: 1,
    memoryMib: 128,
    kernel: image.kernel,
    initrd: image.initrd,
    cmdline: 'console=ttyS0 quiet panic=-1 rdinit=/bin/busybox -- sh -c "while :; do sleep 1; done"',
    disk: { path: disk, format: 'qcow2' },
    memoryFile: `/dev/shm/amber-vmm-qmp-test-${process.pid}`,
    accel: detectAccel(),
  };
  launched = await Vm.launch(spec, { log });
  current = launched;
  await launched.pause();
});

after(async () => {
  await current?.quit().catch(() => undefined);
  await launched?.kill().catch(() => undefined);
  await rm(work, { recursive: true, force: true });
  if (spec) await rm(spec.memoryFile, { force: true });
});

/** A new qcow2 overlay on `layers[i - 1]`, made the VM's disk. */
async function switchTo(vm: Vm, i: 1 | 2): Promise<void> {
  const [backing, overlay] = [layers[i - 1] as string, layers[i]];
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', backing, '-F', 'qcow2', overlay]);
  await vm.switchDiskOverlay(overlay);
  assert.deepEqual(vm.spec.disk, { path: overlay, format: 'qcow2' });
}

async function qemuIo(vm: Vm, command: string): Promise<void> {
  const out = await vm.qmp.execute('human-monitor-command', {
    'command-line': `qemu-io -d ${DISK_BACKEND} "${command}"`,
  });
  assert.equal(out, '', `qemu-io ${command}: ${out}`);
}

/** What `qemu-io` (the host tool) reads at [offset, offset + length) through `file` and its backing chain. */
function readsPattern(file: string, pattern: number, offset: number, length: number): boolean {
  const out = execFileSync(
    'qemu-io',
    ['-r', '-f', 'qcow2', '-c', `read -P 0x${pattern.toString(16)} ${offset} ${length}`, file],
    { encoding: 'utf8' },
  );
  assert.match(out, new RegExp(`read ${length}/${length} bytes`), out);
  return !/verification failed/.test(out);
}

describe('QMP beyond launch', () => {
  test('a command QEMU cannot answer times out with qmp_timeout; the client stays usable and in step', async () => {
    process.kill(launched.pid, 'SIGSTOP');
    try {
      await assert.rejects(launched.qmp.execute('cont', {}, 300), {
        code: 'qmp_timeout',
        message: /QMP cont got no reply in 300 ms/,
      });
      await assert.rejects(launched.qmp.execute('query-status', {}, 300), { code: 'qmp_timeout' });
    } finally {
      process.kill(launched.pid, 'SIGCONT');
    }
    // The timed-out `cont` was still delivered and runs late: its reply and the late query-status reply
    // must not be taken for the answers to the next commands.
    assert.equal(await launched.status(), 'running');
    await launched.pause();
    assert.equal(await launched.status(), 'paused');
    assert.equal(launched.running, true);
  });

  test('adopt re-attaches through the QMP socket once the previous client is gone', async () => {
    await assert.rejects(Vm.adopt({ ...spec, runDir: join(work, 'nothing-here') }, 1, { log }), {
      code: 'qmp_closed',
    });
    // QEMU serves one QMP client: while the launching agent still holds it, adopt gets no greeting.
    await assert.rejects(Vm.adopt(spec, launched.pid, { log }), { code: 'qmp_timeout' });
    // The previous agent moved the disk to an overlay since the launch its spec describes.
    await qemuIo(launched, 'write -P 0xaa 0 128k');
    await switchTo(launched, 1);
    launched.qmp.close(); // the previous agent goes away, its QEMU runs on
    const adopted = await Vm.adopt(spec, launched.pid, { log });
    current = adopted;
    assert.deepEqual(
      adopted.spec.disk,
      { path: layers[1], format: 'qcow2' },
      'the disk is read back from QEMU',
    );
    assert.equal(adopted.pid, launched.pid);
    assert.equal(adopted.running, true);
    assert.equal(await adopted.status(), 'paused');
    await adopted.resume();
    assert.equal(await adopted.status(), 'running');
    await adopted.pause();
  });

  test('switchDiskOverlay freezes the old top and sends writes to the new overlay, before and after adopt', async () => {
    // Layer 1 came before the adoption (previous test); the adopted Vm names its next node after QEMU's.
    const vm = current;
    await qemuIo(vm, 'write -P 0xbb 0 64k');
    await switchTo(vm, 2);
    await qemuIo(vm, 'write -P 0xcc 65536 64k');
    await qemuIo(vm, 'read -P 0xbb 0 64k');
    const exit = await vm.quit();
    assert.equal(vm.running, false);
    // Adopted: QEMU is not our child, so the QMP socket closing is its exit.
    assert.deepEqual(exit, { code: null, signal: null });
    assert.equal((await launched.exited).code, 0);

    const [l0, l1, l2] = layers;
    assert.ok(readsPattern(l0, 0xaa, 0, 131072), 'layer 0 keeps what was written before the first switch');
    assert.ok(readsPattern(l1, 0xbb, 0, 65536), 'layer 1 took the write made after the first switch');
    assert.ok(readsPattern(l1, 0xaa, 65536, 65536), 'layer 1 was frozen before the 0xcc write');
    assert.ok(readsPattern(l2, 0xbb, 0, 65536));
    assert.ok(readsPattern(l2, 0xcc, 65536, 65536), 'layer 2 took the write made after the second switch');
  });
});
