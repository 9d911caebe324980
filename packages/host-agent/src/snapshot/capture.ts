// Captures a stopped VM as the next committed generation of its snapshot directory, and folds a long
// chain back into one generation. Order matters for crash safety: everything a generation needs is written
// under its build id first, and memsnap's header rename commits it; until then it is only garbage.
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { link, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type Header, openFileMemorySource, SnapshotDir } from '@amber/memsnap';
import type { TcpConnectionState } from '@amber/native';
import { saveStateFile, type Vm } from '@amber/vmm';
import type { Logger } from 'pino';
import { writeFileAtomic } from '../atomic-file.js';
import { collapseChain, createOverlay } from './disk-chain.js';
import { fsyncDir, fsyncFile } from './fsync.js';
import { collectSnapshotGarbage } from './gc.js';
import {
  connectionFile,
  devicesFile,
  diskFile,
  linkIfPresent,
  newLiveDisk,
  readCommitted,
} from './layout.js';

export interface CaptureInput {
  vm: Vm;
  dir: string;
  /** The guest RAM file (memory-backend-file), read with pread only. */
  ramPath: string;
  /** The VM's writable overlay now. */
  disk: string;
  /**
   * Guest byte ranges written since the committed generation was restored, or undefined when nobody
   * tracked writes (a cold-booted VM): then the whole memory becomes a new generation 0.
   */
  dirty: Array<[number, number]> | undefined;
  /** The VM runs on afterwards: its disk moves to a fresh overlay so the captured layer stays frozen. */
  keepRunning: boolean;
  /** The host's end of the envd connection the stopped guest holds open, if it was saved. */
  connection: TcpConnectionState | undefined;
  log: Logger;
}

export interface Captured {
  header: Header;
  /** Size of the new generation's data file. */
  generationBytes: number;
  /** The VM's writable overlay from now on (a new one when it keeps running). */
  disk: string;
}

/**
 * Test hook: SIGKILL this process at the step named in the file $AMBER_TEST_CRASH_FILE (armed by a test
 * while the agent runs), to prove a crash there loses nothing.
 */
export function crashPoint(name: string): void {
  const file = process.env.AMBER_TEST_CRASH_FILE;
  if (file && existsSync(file) && readFileSync(file, 'utf8').trim() === name)
    process.kill(process.pid, 'SIGKILL');
}

export async function captureGeneration(input: CaptureInput): Promise<Captured> {
  const { vm, dir } = input;
  const buildId = randomUUID();
  try {
    // QEMU flushed its caches on stop; make the layer durable, then give it its generation's name.
    await fsyncFile(input.disk);
    await link(input.disk, join(dir, diskFile(buildId)));
    await fsyncDir(dir);
    const disk = input.keepRunning ? await moveToFreshOverlay(vm, dir, buildId) : input.disk;
    crashPoint('capture:disk-frozen');

    // After the disk switch: a completed migration deactivates QEMU's block nodes until `cont`.
    const devices = join(dir, devicesFile(buildId));
    const tmpDevices = join(dir, `.tmp-${devicesFile(buildId)}`);
    await saveStateFile(vm, tmpDevices, { ignoreShared: true });
    await fsyncFile(tmpDevices);
    await rename(tmpDevices, devices);
    if (input.connection) {
      const connection = join(dir, connectionFile(buildId));
      await writeFileAtomic(connection, JSON.stringify(input.connection), { syncDir: false });
    }
    crashPoint('capture:devices-saved');

    const snapshot = await SnapshotDir.open(dir);
    const source = await openFileMemorySource(input.ramPath);
    let header: Header;
    try {
      header = input.dirty
        ? await snapshot.writeDiff(source, input.dirty, { buildId })
        : await snapshot.writeBase(source, { buildId });
    } finally {
      await source.close();
    }
    crashPoint('capture:committed');
    // A generation whose written pages were all zero has no data file.
    const size = await stat(snapshot.dataFilePath(buildId)).then(
      (st) => st.size,
      () => 0,
    );
    await collectSnapshotGarbage(dir);
    input.log.info({ buildId, generation: header.generation, bytes: size }, 'generation committed');
    return { header, generationBytes: size, disk };
  } catch (err) {
    // The previous generation stays the committed one; what this attempt wrote is unreferenced.
    await collectSnapshotGarbage(dir).catch((gcErr) =>
      input.log.error({ err: gcErr }, 'cleaning up a failed capture'),
    );
    throw err;
  }
}

async function moveToFreshOverlay(vm: Vm, dir: string, frozenBuildId: string): Promise<string> {
  const next = newLiveDisk(dir);
  await createOverlay(next, join(dir, diskFile(frozenBuildId)), 'qcow2');
  await vm.switchDiskOverlay(next);
  return next;
}

/**
 * MergeDiffs for a paused sandbox: one new generation 0 holding every block, with the disk chain collapsed
 * onto the image alongside it. Never a memory dump from a VM; the old files go only after the commit.
 */
export async function mergeGenerations(dir: string, log: Logger): Promise<Header> {
  const committed = await readCommitted(dir);
  if (!committed) throw new Error(`nothing to merge in ${dir}`);
  const buildId = randomUUID();
  const started = performance.now();
  log.info({ buildId, fromGeneration: committed.header.generation }, 'merge started');
  try {
    await link(committed.devicesPath, join(dir, devicesFile(buildId)));
    await linkIfPresent(committed.connectionPath, join(dir, connectionFile(buildId)));
    await collapseChain(committed.diskPath, join(dir, diskFile(buildId)));
    crashPoint('merge:disk-collapsed');
    const header = await (await SnapshotDir.open(dir)).merge({ buildId });
    await collectSnapshotGarbage(dir);
    log.info(
      { buildId, fromGeneration: committed.header.generation, ms: Math.round(performance.now() - started) },
      'generations merged',
    );
    return header;
  } catch (err) {
    await collectSnapshotGarbage(dir).catch((gcErr) =>
      log.error({ err: gcErr }, 'cleaning up a failed merge'),
    );
    throw err;
  }
}
