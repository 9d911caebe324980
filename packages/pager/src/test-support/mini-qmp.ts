// A minimal QMP client for tests (JSON lines over a unix socket). The real client lives in
// @amber/vmm; the pager's tests keep their own so they do not depend on it.
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';

export class MiniQmp {
  readonly #socket: Socket;
  #buffer = '';
  #pending: Array<{ resolve: (v: unknown) => void; reject: (e: Error) => void }> = [];
  readonly events: Array<{ event: string; data?: unknown }> = [];

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.#buffer += chunk;
      let nl = this.#buffer.indexOf('\n');
      while (nl >= 0) {
        const line = this.#buffer.slice(0, nl).trim();
        this.#buffer = this.#buffer.slice(nl + 1);
        if (line) this.#onMessage(JSON.parse(line) as Record<string, unknown>);
        nl = this.#buffer.indexOf('\n');
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      for (const p of this.#pending.splice(0)) p.reject(new Error('QMP connection closed'));
    });
  }

  /** Connects (retrying while QEMU creates the socket) and negotiates capabilities. */
  static async connect(path: string, timeoutMs = 10000): Promise<MiniQmp> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const socket = connect(path);
      try {
        await once(socket, 'connect');
        const qmp = new MiniQmp(socket);
        await qmp.#greeting();
        await qmp.execute('qmp_capabilities');
        return qmp;
      } catch (err) {
        socket.destroy();
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  #greetingWaiter: ((v: unknown) => void) | undefined;

  #greeting(): Promise<unknown> {
    return new Promise((resolve) => {
      this.#greetingWaiter = resolve;
    });
  }

  #onMessage(msg: Record<string, unknown>): void {
    if ('QMP' in msg) {
      this.#greetingWaiter?.(msg);
      return;
    }
    if ('event' in msg) {
      this.events.push({ event: String(msg.event), data: msg.data });
      return;
    }
    const p = this.#pending.shift();
    if (!p) return;
    if ('error' in msg) {
      const e = msg.error as { class?: string; desc?: string };
      p.reject(new Error(`QMP error ${e.class}: ${e.desc}`));
    } else p.resolve(msg.return);
  }

  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ resolve: resolve as (v: unknown) => void, reject });
      this.#socket.write(
        `${JSON.stringify(args ? { execute: command, arguments: args } : { execute: command })}\n`,
      );
    });
  }

  /** Polls `command` until `done(result)` (every 5 ms). */
  async poll<T>(command: string, done: (result: T) => boolean, timeoutMs = 10000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.execute<T>(command);
      if (done(r)) return r;
      if (Date.now() > deadline)
        throw new Error(`${command} did not reach the expected state: ${JSON.stringify(r)}`);
      await new Promise((res) => setTimeout(res, 5));
    }
  }

  close(): void {
    this.#socket.destroy();
  }
}
