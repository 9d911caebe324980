// What a sandbox's (or a template's) snapshot directory holds. The memsnap header is the one commit point:
// the device state and the frozen disk layer of a generation are named by the header's build id, so a
// crash between writing them and renaming the header leaves only garbage, never a mismatched pair.
//
//   memfile.header, memfile.<buildId>   guest memory (memsnap)
//   devices.<buildId>.state             device state saved with that generation (x-ignore-shared)
//   disk.<buildId>.qcow2                the disk's top layer frozen at that generation (backing by relative name)
//   live.<random>.qcow2                 the running VM's overlays (never part of a snapshot). QEMU reopens
//                                       images by name, so a file it uses is never renamed; all go when it exits
//   working-set.bin                     the pages the last run touched first (a prefetch hint, the pager's)
//   envd-connection.<buildId>.json      the host's end of the connection to envd that the guest in that
//                                       generation still holds open (TCP_REPAIR state; a speed hint) and
//                                       its protocol: `control` lines, or HTTP when absent (older snapshots)
import { randomUUID } from 'node:crypto';
import { access, link, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type Header, SnapshotDir } from '@amber/memsnap';
import { type SavedMachine, savedMachine } from '@amber/vmm';
import { AgentError } from '../errors.js';

const LIVE_DISK = /^live\..+\.qcow2$/;
export const WORKING_SET = 'working-set.bin';

/** Hard-links `from` to `to` if `from` exists; false if it does not. */
export async function linkIfPresent(from: string, to: string): Promise<boolean> {
  return link(from, to).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
      return false;
    },
  );
}

/** Hard-links `fromDir`'s working set into `toDir`; false if `fromDir` has none. */
export async function linkWorkingSet(fromDir: string, toDir: string): Promise<boolean> {
  return linkIfPresent(join(fromDir, WORKING_SET), join(toDir, WORKING_SET));
}

/** Half-written working sets (the pager writes `<name>.tmp-<random>` and renames) a crash left behind. */
export async function removeWorkingSetLeftovers(dir: string): Promise<void> {
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (name.startsWith(`${WORKING_SET}.tmp-`)) await rm(join(dir, name), { force: true });
  }
}

/** A fresh name for a live overlay in a snapshot directory. */
export function newLiveDisk(dir: string): string {
  return join(dir, `live.${randomUUID()}.qcow2`);
}

export async function liveDisks(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.filter((n) => LIVE_DISK.test(n)).map((n) => join(dir, n));
}

/** After the VM exited: its overlays are either frozen under a generation's name or not needed. */
export async function removeLiveDisks(dir: string): Promise<void> {
  for (const path of await liveDisks(dir)) await rm(path, { force: true });
}

export function devicesFile(buildId: string): string {
  return `devices.${buildId}.state`;
}

export function diskFile(buildId: string): string {
  return `disk.${buildId}.qcow2`;
}

export function connectionFile(buildId: string): string {
  return `envd-connection.${buildId}.json`;
}

/** A complete, committed snapshot: memory header, device state and frozen disk of the same generation. */
export interface CommittedSnapshot {
  dir: string;
  header: Header;
  devicesPath: string;
  diskPath: string;
  /** Optional: a generation captured without a held envd connection has none. */
  connectionPath: string;
  /** The machine type (and HPET) its device state was saved with, which the VM that loads it must have. */
  machine: SavedMachine;
}

/** The last committed snapshot in `dir`, or undefined if there is none. Throws if it is incomplete. */
export async function readCommitted(dir: string): Promise<CommittedSnapshot | undefined> {
  const header = await (await SnapshotDir.open(dir)).header();
  if (!header) return undefined;
  const committed = {
    dir,
    header,
    devicesPath: join(dir, devicesFile(header.buildId)),
    diskPath: join(dir, diskFile(header.buildId)),
    connectionPath: join(dir, connectionFile(header.buildId)),
  };
  for (const path of [committed.devicesPath, committed.diskPath]) {
    await access(path).catch((cause) => {
      throw new AgentError('internal', `snapshot in ${dir} is incomplete: ${path} is missing`, { cause });
    });
  }
  const machine = await savedMachine(committed.devicesPath).catch((cause: Error) => {
    throw new AgentError('internal', `snapshot in ${dir}: ${cause.message}`, { cause });
  });
  return { ...committed, machine };
}

export async function requireCommitted(dir: string, what: string): Promise<CommittedSnapshot> {
  const committed = await readCommitted(dir);
  if (!committed) throw new AgentError('failed_precondition', `${what} has no snapshot`);
  return committed;
}
