// `amber cp`: files in and out of sandboxes, streamed both ways (`<id>:<path>` names a sandbox's file,
// `-` is stdin or stdout). A download goes to a temporary name and is renamed only once complete.
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Sandbox } from '@amber/sdk';
import type { Command } from 'commander';
import { printJson } from './output.js';

export type Location = { sandbox: string; path: string } | { local: string };

/** `sb_x:/etc/hosts` is a sandbox's file; anything starting with `/`, `.` or `~`, or without a colon, is local. */
export function parseLocation(arg: string): Location {
  const m = /^([A-Za-z0-9][A-Za-z0-9_-]*):(.*)$/.exec(arg);
  if (!m || /^[/.~]/.test(arg)) return { local: arg };
  const path = m[2] ?? '';
  if (path === '') throw new Error(`no path after the colon in ${arg}`);
  return { sandbox: m[1] ?? '', path };
}

function remoteTarget(path: string, source: string): string {
  return path.endsWith('/') ? `${path}${basename(source)}` : path;
}

async function localTarget(path: string, source: string): Promise<string> {
  const isDir = await stat(path).then(
    (s) => s.isDirectory(),
    () => path.endsWith('/'),
  );
  return isDir ? join(path, basename(source)) : path;
}

async function download(stream: ReadableStream<Uint8Array>, target: string): Promise<number> {
  let size = 0;
  const counted = Readable.fromWeb(stream as Parameters<typeof Readable.fromWeb>[0]).on(
    'data',
    (c: Buffer) => {
      size += c.length;
    },
  );
  if (target === '-') {
    await pipeline(counted, process.stdout, { end: false });
    return size;
  }
  const tmp = join(dirname(target), `.${basename(target)}.amber-${process.pid}.part`);
  try {
    const out = createWriteStream(tmp, { flags: 'wx' });
    await pipeline(counted, out);
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return size;
}

export function registerCpCommand(program: Command): void {
  program
    .command('cp <source> <destination>')
    .description(
      'copy a file into, out of or between sandboxes: amber cp ./a.txt <id>:/root/, amber cp <id>:/etc/os-release -',
    )
    .option('--json', 'print {source, destination, size} as JSON')
    .action(async (source: string, destination: string, f: { json?: boolean }) => {
      const from = parseLocation(source);
      const to = parseLocation(destination);
      let size: number;
      let target: string;
      if ('local' in from && 'local' in to) throw new Error('one side must be a sandbox: <id>:<path>');
      if ('sandbox' in to) {
        target = `${to.sandbox}:${remoteTarget(to.path, 'local' in from ? from.local : from.path)}`;
        const data =
          'local' in from
            ? from.local === '-'
              ? process.stdin
              : createReadStream(from.local)
            : await (await Sandbox.get(from.sandbox)).files.read(from.path);
        const written = await (await Sandbox.get(to.sandbox)).files.write(
          target.slice(to.sandbox.length + 1),
          data,
        );
        size = written.size;
      } else {
        if (!('sandbox' in from)) throw new Error('unreachable');
        target = await (to.local === '-' ? '-' : localTarget(to.local, from.path));
        size = await download(await (await Sandbox.get(from.sandbox)).files.read(from.path), target);
      }
      if (f.json) printJson({ source, destination: target, size });
      else if (target !== '-') process.stderr.write(`${size} bytes -> ${target}\n`);
    });
}
