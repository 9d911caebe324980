// The connection the shim keeps open for the VM's lifetime. Lines both ways: we say "ok" (or
// "error <code>: <reason>") to answer the handoff and "detach" to let go; the shim answers "detached".
// Its closing (EOF) is how each side learns the other is gone.
import { Socket } from 'node:net';

export class ShimLink {
  readonly #socket: Socket;
  #buffer = '';
  #lineWaiters: Array<{ want: string; resolve: () => void }> = [];
  readonly closed: Promise<void>;

  constructor(fd: number) {
    this.#socket = new Socket({ fd, readable: true, writable: true });
    this.#socket.setEncoding('utf8');
    this.#socket.on('data', (chunk: string) => {
      this.#buffer += chunk;
      let nl = this.#buffer.indexOf('\n');
      while (nl >= 0) {
        const line = this.#buffer.slice(0, nl);
        this.#buffer = this.#buffer.slice(nl + 1);
        for (const w of this.#lineWaiters.filter((x) => x.want === line)) w.resolve();
        this.#lineWaiters = this.#lineWaiters.filter((x) => x.want !== line);
        nl = this.#buffer.indexOf('\n');
      }
    });
    this.#socket.on('error', () => {}); // a reset is just another way of closing
    this.closed = new Promise((resolve) => this.#socket.once('close', () => resolve()));
  }

  send(line: string): void {
    if (!this.#socket.destroyed) this.#socket.write(`${line}\n`);
  }

  /** Resolves when the peer sends exactly `line`; rejects after `timeoutMs` or when the link closes. */
  waitForLine(line: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "${line}" within ${timeoutMs} ms`)), timeoutMs);
      this.#lineWaiters.push({
        want: line,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
      this.closed.then(() => {
        clearTimeout(timer);
        reject(new Error(`link closed before "${line}"`));
      });
    });
  }

  /** Closes our end; without a prior detach the shim ends the VM. */
  destroy(): Promise<void> {
    this.#socket.destroy();
    return this.closed;
  }
}
