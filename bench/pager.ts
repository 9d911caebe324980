// Pager fault throughput without a VM: uffd-helper (a QEMU stand-in with the real shim preloaded) maps a
// 256 MiB RAM file and touches one byte per page, from 4 threads (like vCPUs) or 1, while the pager
// serves every fault from a snapshot. The baseline is the same load served by a do-nothing handler
// thread inside the helper: the ceiling this kernel and machine allow, measured in the same run.
// JSON lines on stdout (one per metric); progress on stderr.
import { randomUUID } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PAGE_SIZE, UffdHelperProcess } from '@amber/native/testing';
import { Pager, type SnapshotSource } from '@amber/pager';
import { destination, pino } from 'pino';

const SIZE = 256 << 20;
const PAGES = SIZE / PAGE_SIZE;

const round = (n: number) => Math.round(n * 1000) / 1000;

/** One JSON line; `baseline` is the same load served by a do-nothing handler (ratio = value / baseline). */
function report(metric: string, value: number, unit: string, baseline?: number): void {
  const line: Record<string, unknown> = { metric, value: round(value), unit };
  if (baseline !== undefined) {
    line.baseline = round(baseline);
    line.ratio = round(value / baseline);
  }
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

function progress(message: string): void {
  process.stderr.write(`  ${message}\n`);
}

/** A one-generation snapshot whose pages are all distinct non-zero data (no zero-page shortcuts). */
function makeSnapshot(dir: string): SnapshotSource {
  const buildId = randomUUID();
  const path = join(dir, `memfile.${buildId}`);
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(4 << 20);
  for (let off = 0; off < SIZE; off += chunk.length) {
    for (let i = 0; i < chunk.length; i += 8) chunk.writeDoubleLE(off + i + 1, i);
    writeSync(fd, chunk, 0, chunk.length, off);
  }
  closeSync(fd);
  return {
    header: {
      size: SIZE,
      generation: 0,
      buildId,
      mappings: [{ offset: 0, length: SIZE, buildId, storageOffset: 0 }],
    },
    dataFilePath: (id) => join(dir, `memfile.${id}`),
  };
}

interface RunResult {
  faults: number;
  pages: number;
  seconds: number;
  p50: number;
  p99: number;
}

interface Load {
  mode: 'seq' | 'rand';
  pagesPerFault: number;
  /** Faulting threads in the helper, like vCPUs. */
  threads: number;
}

async function run(dir: string, snapshot: SnapshotSource, load: Load): Promise<RunResult> {
  const memPath = `/dev/shm/amber-bench-pager-${process.pid}`;
  const pager = await Pager.listen({
    socketPath: join(dir, 'pager.sock'),
    snapshot,
    logger: pino({ level: 'warn' }, destination(2)),
    pagesPerFault: load.pagesPerFault,
  });
  const helper = new UffdHelperProcess(memPath, SIZE, pager.shimEnv(memPath));
  try {
    await pager.attached;
    await helper.ready();
    const ns = await helper.touch(load.mode, PAGES, 1, 42, load.threads);
    const s = pager.stats();
    if (s.populatedPages !== PAGES) throw new Error(`only ${s.populatedPages} of ${PAGES} pages were served`);
    return { faults: s.faults, pages: s.pages, seconds: ns / 1e9, p50: s.latencyP50Us, p99: s.latencyP99Us };
  } finally {
    await pager.detach({ complete: false }).catch(() => {});
    helper.kill();
    await helper.exited;
    await pager.close();
    rmSync(memPath, { force: true });
  }
}

/** The floor: a trivial in-process handler (no storage, no bookkeeping) under the same load. */
async function floor(threads: number): Promise<number> {
  const helper = new UffdHelperProcess('/dev/null', 0);
  try {
    await helper.ready();
    const ns = await helper.floor(PAGES, threads, 50);
    return PAGES / (ns / 1e9);
  } finally {
    await helper.exit();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'amber-bench-pager-'));
try {
  const snapshot = makeSnapshot(dir);
  const best = async (load: Load): Promise<RunResult> => {
    let top: RunResult | undefined;
    for (let i = 0; i < 3; i++) {
      const r = await run(dir, snapshot, load);
      progress(
        `${load.mode} ${load.threads} thread(s), ${load.pagesPerFault} page(s)/fault: ${r.faults} faults in ${(r.seconds * 1000).toFixed(0)} ms = ${Math.round(r.faults / r.seconds)} faults/s (p50 ${r.p50} µs, p99 ${r.p99} µs)`,
      );
      if (!top || r.faults / r.seconds > top.faults / top.seconds) top = r;
    }
    return top as RunResult;
  };
  const bestFloor = async (threads: number): Promise<number> => {
    const runs = [await floor(threads), await floor(threads), await floor(threads)];
    progress(`floor, ${threads} thread(s): ${runs.map(Math.round).join(', ')} faults/s`);
    return Math.max(...runs);
  };
  const THREADS = 4;
  const seq = await best({ mode: 'seq', pagesPerFault: 1, threads: THREADS });
  const rand = await best({ mode: 'rand', pagesPerFault: 1, threads: THREADS });
  const single = await best({ mode: 'seq', pagesPerFault: 1, threads: 1 });
  const batched = await best({ mode: 'seq', pagesPerFault: 16, threads: THREADS });
  const floorN = await bestFloor(THREADS);
  const floor1 = await bestFloor(1);
  const rate = (r: RunResult) => r.faults / r.seconds;
  report('pager_faults_per_s', rate(seq), 'faults/s', floorN);
  report('pager_faults_per_s_random', rate(rand), 'faults/s', floorN);
  report('pager_faults_per_s_1thread', rate(single), 'faults/s', floor1);
  report('pager_fault_latency_p50_us', single.p50, 'us');
  report('pager_fault_latency_p99_us', single.p99, 'us');
  report('pager_faults_per_s_batched', rate(batched), 'faults/s');
  report('pager_pages_per_s_batched', batched.pages / batched.seconds, 'pages/s', floorN);
  report('pager_mib_per_s_batched', (batched.pages * PAGE_SIZE) / (1 << 20) / batched.seconds, 'MiB/s');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
