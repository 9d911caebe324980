import type { Socket } from 'node:net';
import { AgentError } from '../errors.js';

/** envd's `Upgrade` token for its control channel (see packages/envd/src/control-channel.ts). */
export const CONTROL_PROTOCOL = 'amber-control';

/** How a connection envd keeps open talks: HTTP/1.1 requests, or the control channel's JSON lines. */
export type EnvdProtocol = 'http' | 'control';

/** A connection to envd and the protocol it speaks. */
export interface EnvdConnection {
  socket: Socket;
  protocol: EnvdProtocol;
}

interface Answer {
  ok: boolean;
  code?: number;
  message?: string;
}

/**
 * The host's end of envd's control channel: one JSON line out, one back, a request at a time. The answer
 * to a restore's `init` is a few bytes on a connection already open, so a restored guest runs little more
 * than the kernel's receive path and one handler before it is ready.
 */
export class ControlChannel {
  #buffered = '';
  #waiting: { resolve(answer: Answer): void; reject(err: Error): void } | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.#receive(chunk));
    socket.on('error', (err) => this.#fail(err));
    socket.on('close', () => this.#fail(new Error('envd closed the control channel')));
  }

  get usable(): boolean {
    return !this.socket.destroyed && this.socket.writable;
  }

  /** Sends `request`; resolves when envd answers ok, rejects with its error, a close, or the timeout. */
  call(request: { op: string; [field: string]: unknown }, timeoutMs: number): Promise<void> {
    const result = this.#queue.then(() => this.#callNow(request, timeoutMs));
    this.#queue = result.catch(() => undefined);
    return result;
  }

  async #callNow(request: object, timeoutMs: number): Promise<void> {
    if (!this.usable) throw new Error('the control channel is closed');
    let timer: NodeJS.Timeout | undefined;
    const answer = await new Promise<Answer>((resolve, reject) => {
      this.#waiting = { resolve, reject };
      timer = setTimeout(() => {
        // A late answer would be taken for the next request's: the channel cannot be used again.
        this.socket.destroy();
        reject(new Error(`no answer in ${timeoutMs} ms`));
      }, timeoutMs);
      this.socket.write(`${JSON.stringify(request)}\n`);
    }).finally(() => {
      clearTimeout(timer);
      this.#waiting = undefined;
    });
    if (!answer.ok) {
      const code =
        answer.code === 400 ? 'invalid_argument' : answer.code === 401 ? 'unauthenticated' : 'internal';
      throw new AgentError(code, `envd control: ${answer.message ?? 'failed'}`);
    }
  }

  #receive(chunk: string): void {
    this.#buffered += chunk;
    for (let end = this.#buffered.indexOf('\n'); end >= 0; end = this.#buffered.indexOf('\n')) {
      const line = this.#buffered.slice(0, end);
      this.#buffered = this.#buffered.slice(end + 1);
      const waiting = this.#waiting;
      this.#waiting = undefined;
      if (!waiting) {
        this.socket.destroy(new Error(`envd sent an answer nobody asked for: ${line.slice(0, 200)}`));
        return;
      }
      try {
        waiting.resolve(JSON.parse(line) as Answer);
      } catch {
        waiting.reject(new Error(`envd's answer is not JSON: ${line.slice(0, 200)}`));
      }
    }
  }

  #fail(err: Error): void {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.reject(err);
  }

  destroy(): void {
    this.socket.destroy();
  }
}
