import { join } from 'node:path';
import { type Accel, accelArgs } from './accel.js';
import { type DiskSpec, diskArgs } from './disk-graph.js';
import { VmmError } from './errors.js';

export interface VmSpec {
  /** Directory for the VM's sockets and logs (qmp.sock, console.log, qemu.log). */
  runDir: string;
  vcpus: number;
  memoryMib: number;
  kernel: string;
  initrd: string;
  cmdline: string;
  disk: DiskSpec;
  /** Guest RAM as a shared file we own (e.g. under /dev/shm), so snapshots can read it and restores can serve it lazily. */
  memoryFile: string;
  network?: { netns: string; tap: string; mac: string };
  accel: Accel;
  /** TCG's translation cache (tb-size); ignored under KVM. */
  tcgCacheMib?: number;
  /**
   * QEMU's machine type; default `pc` (the newest i440fx). A restore must name the versioned type its
   * device state was saved with (`savedMachine`), which a QEMU upgrade may no longer call `pc`.
   */
  machine?: string;
  /**
   * Keep QEMU's HPET (the pc machine's default). Off unless asked for: a Linux guest leaves it as an idle
   * broadcast timer, yet QEMU's emulation still wakes every 4 ms. Part of the device state, so a snapshot
   * taken with it restores only into a VM that has it (`savedMachine`).
   */
  hpet?: boolean;
  /** Start paused, waiting for `migrate-incoming` (restore from a snapshot). */
  incoming?: boolean;
  /** Lazy memory: LD_PRELOAD the shim, which hands guest RAM's userfaultfd to a pager on `socketPath`. */
  uffd?: { socketPath: string; trackDirty: boolean; reconnectMs?: number };
}

/**
 * The migration settings every VM gets on its command line (`-global`), not over QMP: QEMU's monitor reads
 * a command one byte per system call (~5 calls a byte), so each byte not sent is CPU off a restore's path.
 * - events: the end of a migration is seen the moment it happens (MIGRATION events), not at a poll;
 * - max-bandwidth unlimited: QEMU throttles migration to 128 MiB/s by default, and a file is no network link;
 * - no announcements after a load: they tell switches a VM moved hosts, and a restored one is in a fresh
 *   namespace whose host side already knows its fixed MAC. Each round had the guest send gratuitous ARP and
 *   IPv6 multicast reports, ~600 translation blocks of a restored guest's kernel.
 * None is part of the device state: snapshots restore the same with or without them.
 */
const MIGRATION_GLOBALS = [
  'migration.x-events=on',
  `migration.x-max-bandwidth=${1024 ** 4}`,
  'migration.announce-rounds=0',
];

export const MAX_VCPUS = 64;

export function runPaths(runDir: string) {
  return {
    qmp: join(runDir, 'qmp.sock'),
    console: join(runDir, 'console.log'),
    qemuLog: join(runDir, 'qemu.log'),
    pid: join(runDir, 'qemu.pid'),
  };
}

export function validateSpec(spec: VmSpec): void {
  if (!Number.isInteger(spec.vcpus) || spec.vcpus < 1 || spec.vcpus > MAX_VCPUS) {
    throw new VmmError('invalid_spec', `vcpus must be an integer in [1, ${MAX_VCPUS}], got ${spec.vcpus}`);
  }
  if (!Number.isInteger(spec.memoryMib) || spec.memoryMib < 64) {
    throw new VmmError('invalid_spec', `memoryMib must be an integer >= 64, got ${spec.memoryMib}`);
  }
  if (spec.cmdline.includes('\n')) throw new VmmError('invalid_spec', 'cmdline must be one line');
  if (spec.machine !== undefined && !/^[a-z0-9][a-z0-9.-]*$/.test(spec.machine))
    throw new VmmError(
      'invalid_spec',
      `machine must be a QEMU machine type name, got ${JSON.stringify(spec.machine)}`,
    );
  if (
    'placeholderBytes' in spec.disk &&
    !(Number.isSafeInteger(spec.disk.placeholderBytes) && spec.disk.placeholderBytes > 0)
  ) {
    throw new VmmError(
      'invalid_spec',
      `placeholderBytes must be a positive integer, got ${spec.disk.placeholderBytes}`,
    );
  }
}

/** The descriptor QEMU finds its QMP listening socket on: the launcher's first extra descriptor. */
const QMP_FD = 3;

/**
 * The QEMU command line. A restore must use exactly the same devices as the original boot, so this is a
 * pure function of the spec; only `incoming` differs between boot and restore.
 */
export function qemuArgs(spec: VmSpec): string[] {
  const paths = runPaths(spec.runDir);
  const args = [
    '-name',
    `amber,debug-threads=on`,
    '-M',
    `${spec.machine ?? 'pc'},memory-backend=mem${spec.hpet ? '' : ',hpet=off'}`,
    ...accelArgs(spec.accel, spec.vcpus, spec.tcgCacheMib),
    '-bios',
    '/usr/share/qemu/qboot.rom',
    '-object',
    `memory-backend-file,id=mem,size=${spec.memoryMib}M,mem-path=${spec.memoryFile},share=on,prealloc=off`,
    '-m',
    `${spec.memoryMib}M`,
    '-smp',
    String(spec.vcpus),
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-no-reboot',
    '-kernel',
    spec.kernel,
    '-initrd',
    spec.initrd,
    '-append',
    spec.cmdline,
    ...diskArgs(spec.disk),
    // Appended, so one log spans every boot and restore of the sandbox.
    '-chardev',
    `file,id=console0,path=${paths.console},append=on`,
    '-serial',
    'chardev:console0',
    // QMP listens on a socket the launcher bound at runPaths().qmp and hands over as QMP_FD (vm.ts).
    '-chardev',
    `socket,id=qmp0,fd=${QMP_FD},server=on,wait=off`,
    '-mon',
    'chardev=qmp0,mode=control',
  ];
  if (spec.network) {
    // guest_announce=off: after a restore the guest would announce itself (gratuitous ARP, IPv6 neighbour
    // and multicast reports, netlink events), ~800 translation blocks before it can answer; its one peer
    // has a permanent neighbour entry. Part of the device's features, so snapshots depend on it.
    args.push(
      '-netdev',
      `tap,id=net0,ifname=${spec.network.tap},script=no,downscript=no`,
      '-device',
      `virtio-net-pci,netdev=net0,mac=${spec.network.mac},guest_announce=off`,
    );
  }
  for (const global of MIGRATION_GLOBALS) args.push('-global', global);
  if (spec.incoming) args.push('-incoming', 'defer');
  return args;
}
