// Drives csrc/test-helper/uffd-helper: a process that maps a RAM file the way QEMU does (optionally
// through the shim) and touches its memory on command. Used by tests and benchmarks of the pager.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface, type Interface } from 'node:readline';
import { uffdHelperPath } from '../shim.js';

export const PAGE_SIZE = 4096;

/** FNV-1a over little-endian u32 words: the helper's page hash. */
export function pageHash(page: Uint8Array): number {
  const words = new Uint32Array(page.buffer, page.byteOffset, page.byteLength >>> 2);
  let h = 2166136261;
  for (let i = 0; i < words.length; i++) h = Math.imul(h ^ (words[i] as number), 16777619);
  return h >>> 0;
}

/** The bytes the helper's `write` command puts in `page`. */
export function writePattern(page: number): Buffer {
  const out = Buffer.alloc(PAGE_SIZE);
  const base = Math.imul(page, 2654435761) >>> 0;
  for (let i = 0; i < PAGE_SIZE / 4; i++)
    out.writeUInt32LE((base ^ Math.imul(i, 40503) ^ 0x5eed) >>> 0, i * 4);
  return out;
}

export interface HelperExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

export class UffdHelperProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<HelperExit>;
  #lines: Interface;
  #waiters: Array<(line: string | undefined) => void> = [];
  #queued: string[] = [];
  #stderr = '';
  #chain: Promise<unknown> = Promise.resolve();
  #gone = false;

  /** Starts the helper on `file` (created/truncated to `size`) with extra environment `env`. */
  constructor(file: string, size: number, env: Record<string, string> = {}) {
    this.child = spawn(uffdHelperPath, [file, String(size)], {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stderr?.on('data', (c: Buffer) => {
      this.#stderr += c.toString();
    });
    this.#lines = createInterface({ input: this.child.stdout as NodeJS.ReadableStream });
    this.#lines.on('line', (line) => {
      const w = this.#waiters.shift();
      if (w) w(line);
      else this.#queued.push(line);
    });
    // 'close', not 'exit': every line the helper printed has been read by then.
    this.exited = once(this.child, 'close').then(([code, signal]) => {
      this.#gone = true;
      for (const w of this.#waiters.splice(0)) w(undefined);
      return { code: code as number | null, signal: signal as NodeJS.Signals | null, stderr: this.#stderr };
    });
    this.child.stdin?.on('error', () => {}); // EPIPE after the helper exits is reported through `exited`
  }

  get stderr(): string {
    return this.#stderr;
  }

  #nextLine(): Promise<string> {
    const queued = this.#queued.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.#gone)
      return Promise.reject(new Error(`uffd-helper has exited; stderr: ${this.#stderr.trim()}`));
    return new Promise((resolve, reject) => {
      this.#waiters.push((line) => {
        if (line === undefined) reject(new Error(`uffd-helper exited; stderr: ${this.#stderr.trim()}`));
        else resolve(line);
      });
    });
  }

  /** Waits for "ready <base> <pid>" (after the shim's handoff, when preloaded). */
  async ready(): Promise<{ base: number; pid: number }> {
    const line = await this.#nextLine();
    const m = /^ready (\d+) (\d+)$/.exec(line);
    if (!m) throw new Error(`unexpected helper output: ${line}`);
    return { base: Number(m[1]), pid: Number(m[2]) };
  }

  // Commands run one at a time; each resolves with its reply lines.
  #command<T>(cmd: string, collect: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(() => {
      this.child.stdin?.write(`${cmd}\n`);
      return collect();
    });
    this.#chain = run.catch(() => {});
    return run;
  }

  async #untilEnd(): Promise<Array<[number, number]>> {
    const out: Array<[number, number]> = [];
    for (;;) {
      const line = await this.#nextLine();
      if (line === 'end') return out;
      const [p, h] = line.split(' ');
      out.push([Number(p), Number(h)]);
    }
  }

  /** Hashes `count` pseudo-random pages (xorshift from `seed`): [page, hash] pairs. */
  readRandom(seed: number, count: number): Promise<Array<[number, number]>> {
    return this.#command(`read ${seed} ${count}`, () => this.#untilEnd());
  }

  /** Hashes pages [first, first + count). */
  hashRange(first: number, count: number): Promise<Array<[number, number]>> {
    return this.#command(`hash ${first} ${count}`, () => this.#untilEnd());
  }

  /** Fills each page with writePattern(page). */
  async write(pages: readonly number[]): Promise<void> {
    const reply = await this.#command(`write ${pages.join(' ')}`, () => this.#nextLine());
    if (reply !== 'ok') throw new Error(`write: ${reply}`);
  }

  /** madvise(MADV_REMOVE) over [page, page + count). */
  async remove(page: number, count: number): Promise<void> {
    const reply = await this.#command(`remove ${page} ${count}`, () => this.#nextLine());
    if (reply !== 'ok') throw new Error(`remove: ${reply}`);
  }

  /**
   * Reads one byte of `count` pages (every `stride`-th page, in order or shuffled), split across
   * `threads` threads like a multi-vCPU guest; returns ns taken.
   */
  async touch(mode: 'seq' | 'rand', count: number, stride = 1, seed = 1, threads = 1): Promise<number> {
    const reply = await this.#command(`touch ${mode} ${count} ${stride} ${seed} ${threads}`, () =>
      this.#nextLine(),
    );
    const m = /^ns (\d+)$/.exec(reply);
    if (!m) throw new Error(`touch: ${reply}`);
    return Number(m[1]);
  }

  /** Frees `mib` MiB of heap only malloc_trim can give back, then calls it: RSS (KiB) around the call. */
  async freeHeapThenTrim(mib: number): Promise<{ before: number; after: number }> {
    const reply = await this.#command(`trim ${mib}`, () => this.#nextLine());
    const m = /^rss (\d+) (\d+)$/.exec(reply);
    if (!m) throw new Error(`trim: ${reply}`);
    return { before: Number(m[1]), after: Number(m[2]) };
  }

  /**
   * The machine's floor: `pages` faults of a fresh memfd served by a trivial handler thread inside the
   * helper (UFFDIO_COPY of a constant page, nothing else); returns ns taken.
   */
  async floor(pages: number, threads = 1, spinUs = 50): Promise<number> {
    const reply = await this.#command(`floor ${pages} ${threads} ${spinUs}`, () => this.#nextLine());
    const m = /^ns (\d+)$/.exec(reply);
    if (!m || m[1] === '0') throw new Error(`floor: ${reply}`);
    return Number(m[1]);
  }

  /** Asks the helper to exit and waits for it. */
  async exit(): Promise<HelperExit> {
    this.child.stdin?.end('exit\n');
    return this.exited;
  }

  /** SIGKILLs the helper if it is still running (for cleanup paths). */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}
