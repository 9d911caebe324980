// Starts the test guest under QEMU (TCG) with its RAM in a shared file we own, as the design's
// snapshot recipe requires, and keeps its serial log and stderr at hand.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSerial } from './test-guest.js';

export const GUEST_RAM = 64 << 20;

export interface QemuOptions {
  name: string;
  dir: string;
  elf: string;
  ramPath: string;
  incoming?: boolean;
  env?: Record<string, string>;
}

export function qemuArgs(o: QemuOptions): string[] {
  return [
    '-M',
    'pc,memory-backend=mem',
    '-accel',
    'tcg',
    '-m',
    '64M',
    '-object',
    `memory-backend-file,id=mem,size=64M,mem-path=${o.ramPath},share=on`,
    '-kernel',
    o.elf,
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-serial',
    `file:${join(o.dir, `${o.name}.serial`)}`,
    '-qmp',
    `unix:${join(o.dir, `${o.name}.qmp`)},server=on,wait=off`,
    '-no-reboot',
    ...(o.incoming ? ['-incoming', 'defer'] : []),
  ];
}

export class QemuProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly qmpPath: string;
  readonly serialPath: string;
  #stderr = '';

  constructor(readonly options: QemuOptions) {
    this.qmpPath = join(options.dir, `${options.name}.qmp`);
    this.serialPath = join(options.dir, `${options.name}.serial`);
    this.child = spawn('qemu-system-x86_64', qemuArgs(options), {
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child.stderr?.on('data', (c: Buffer) => {
      this.#stderr += c.toString();
    });
    this.exited = once(this.child, 'exit').then(([code, signal]) => ({
      code: code as number | null,
      signal: signal as NodeJS.Signals | null,
    }));
  }

  get stderr(): string {
    return this.#stderr;
  }

  serial(): ReturnType<typeof parseSerial> & { raw: string } {
    const raw = existsSync(this.serialPath) ? readFileSync(this.serialPath, 'utf8') : '';
    return { ...parseSerial(raw), raw };
  }

  /** Waits until the guest has printed `n` counter lines (or failed, or exited). */
  async waitForCounts(n: number, timeoutMs = 20000): Promise<number[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = this.serial();
      if (s.failure) throw new Error(`guest memory check failed: ${s.failure}`);
      if (s.counts.length >= n) return s.counts;
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`QEMU ${this.options.name} exited: ${this.#stderr}`);
      }
      if (Date.now() > deadline)
        throw new Error(`${this.options.name}: only ${s.counts.length} counts in time`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}
