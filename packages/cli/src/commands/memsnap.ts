// `amber memsnap ...`: look at and check snapshot files from outside the agent (format debugging, field
// incidents). Errors are MemsnapErrors; main prints them as `amber: [code] message` and exits 1.
import { readFile } from 'node:fs/promises';
import { type Header, parseHeader, SnapshotDir, ZERO_BUILD_ID } from '@amber/memsnap';
import { type Command, InvalidArgumentError } from 'commander';

/** Bytes per read when streaming `memsnap read` to stdout. */
const READ_CHUNK = 16 << 20;

export function registerMemsnapCommands(program: Command): void {
  const memsnap = program
    .command('memsnap')
    .description(
      'inspect, verify, read and merge memory snapshot directories (memfile.header + memfile.<id>)',
    );

  memsnap
    .command('inspect')
    .description('print a memfile.header: metadata and every mapping')
    .argument('<header>', 'path to a memfile.header')
    .option('--json', 'machine-readable output')
    .action(async (path: string, opts: { json?: boolean }) => {
      const header = parseHeader(await readFile(path), { file: path });
      process.stdout.write(
        opts.json ? `${JSON.stringify(toJson(header), null, 2)}\n` : describe(path, header),
      );
    });

  memsnap
    .command('verify')
    .description('check a snapshot directory: header valid, every data file present and long enough')
    .argument('<dir>', 'snapshot directory')
    .action(async (dir: string) => {
      const report = await (await SnapshotDir.open(dir)).verify();
      const bytes = report.files.reduce((sum, f) => sum + f.size, 0);
      const h = report.header;
      process.stdout.write(
        `ok: ${dir}: generation ${h.generation}, ${h.mappings.length} mappings, ` +
          `${report.files.length} data files (${bytes} bytes)\n`,
      );
    });

  memsnap
    .command('read')
    .description('write the resolved guest memory bytes [offset, offset + length) to stdout')
    .argument('<dir>', 'snapshot directory')
    .requiredOption('--offset <bytes>', 'guest offset (decimal or 0x hex)', parseBytes)
    .requiredOption('--length <bytes>', 'number of bytes (decimal or 0x hex)', parseBytes)
    .action(async (dir: string, opts: { offset: number; length: number }) => {
      const snap = await SnapshotDir.open(dir);
      const header = await snap.header();
      // No header or a range past the end: read() throws (no_header, bad_range) before any output.
      if (!header || opts.offset + opts.length > header.size) await snap.read(opts.offset, opts.length);
      for (let done = 0; done < opts.length; done += READ_CHUNK) {
        const bytes = await snap.read(opts.offset + done, Math.min(READ_CHUNK, opts.length - done));
        await new Promise<void>((resolve, reject) =>
          process.stdout.write(bytes, (err) => (err ? reject(err) : resolve())),
        );
      }
    });

  memsnap
    .command('merge')
    .description('MergeDiffs: fold the generation chain into one new generation 0, then drop the old files')
    .argument('<dir>', 'snapshot directory')
    .action(async (dir: string) => {
      const snap = await SnapshotDir.open(dir);
      const from = (await snap.header())?.generation;
      const started = performance.now();
      const h = await snap.merge();
      const ms = Math.round(performance.now() - started);
      process.stdout.write(
        `merged ${dir}: generation ${from} -> 0, build id ${h.buildId}, ${h.mappings.length} mappings, ` +
          `${dataBytes(h)} data bytes in ${ms} ms\n`,
      );
    });
}

function parseBytes(value: string): number {
  const n = /^0x[0-9a-f]+$/i.test(value)
    ? Number.parseInt(value.slice(2), 16)
    : /^\d+$/.test(value)
      ? Number(value)
      : NaN;
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`not a byte count: ${value}`);
  return n;
}

/** The JSON shape, in this key order. */
function toJson(h: Header): object {
  return {
    version: h.version,
    blockSize: h.blockSize,
    size: h.size,
    generation: h.generation,
    buildId: h.buildId,
    baseBuildId: h.baseBuildId,
    mappings: h.mappings.map((m) => ({
      offset: m.offset,
      length: m.length,
      buildId: m.buildId,
      storageOffset: m.storageOffset,
    })),
  };
}

function dataBytes(h: Header): number {
  return h.mappings.reduce((sum, m) => (m.buildId === ZERO_BUILD_ID ? sum : sum + m.length), 0);
}

function describe(path: string, h: Header): string {
  const hex = (n: number) => `0x${n.toString(16)}`;
  const ids = new Set(h.mappings.filter((m) => m.buildId !== ZERO_BUILD_ID).map((m) => m.buildId));
  const lines = [
    `${path}`,
    `  version ${h.version}, block size ${h.blockSize}, memory ${h.size} bytes (${hex(h.size)}), generation ${h.generation}`,
    `  build id      ${h.buildId}`,
    `  base build id ${h.baseBuildId}`,
    `  ${h.mappings.length} mappings: ${dataBytes(h)} data bytes from ${ids.size} files, ` +
      `${h.size - dataBytes(h)} zero bytes`,
    `  ${'#'.padStart(5)}  ${'offset'.padEnd(14)}${'length'.padEnd(14)}${'build id'.padEnd(38)}storage offset`,
  ];
  h.mappings.forEach((m, i) => {
    const zero = m.buildId === ZERO_BUILD_ID;
    lines.push(
      `  ${String(i).padStart(5)}  ${hex(m.offset).padEnd(14)}${hex(m.length).padEnd(14)}` +
        `${(zero ? 'zero' : m.buildId).padEnd(38)}${zero ? '-' : hex(m.storageOffset)}`,
    );
  });
  return `${lines.join('\n')}\n`;
}
