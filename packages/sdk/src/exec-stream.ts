// One process over the exec WebSocket: output as an async iterable, input, resize and signals in.
import { fromBase64, toBase64 } from './base64.js';
import { AmberError, errorFromBody } from './errors.js';
import type { ExecExit } from './types.js';
import { type WebSocketLike, WS_OPEN } from './web-socket.js';

export interface ExecOutput {
  stream: 'stdout' | 'stderr';
  data: Uint8Array;
}

interface ServerFrame {
  type?: string;
  pid?: number;
  data?: string;
  exitCode?: number;
  signal?: string | null;
  error?: { code?: string; message?: string; reason?: string };
}

export class ExecStream implements AsyncIterable<ExecOutput> {
  /** The process id in the guest. */
  pid = 0;
  private readonly queue: ExecOutput[] = [];
  private wake: (() => void) | undefined;
  private failure: AmberError | undefined;
  private ended = false;
  private iterating = false;
  private discard = false;
  private readonly exited: Promise<ExecExit>;

  /** Opens the stream; resolves once the process has started (so a bad command or state rejects here). */
  static open(ws: WebSocketLike, start: Record<string, unknown>): Promise<ExecStream> {
    return new Promise((resolve, reject) => new ExecStream(ws, start, resolve, reject));
  }

  private constructor(
    private readonly ws: WebSocketLike,
    start: Record<string, unknown>,
    onStarted: (s: ExecStream) => void,
    onFailed: (e: AmberError) => void,
  ) {
    let started = false;
    let settle: { resolve: (e: ExecExit) => void; reject: (e: AmberError) => void } | undefined;
    this.exited = new Promise<ExecExit>((resolve, reject) => {
      settle = { resolve, reject };
    });
    // Nobody may be waiting for the exit (the caller only iterates): never an unhandled rejection.
    this.exited.catch(() => {});
    const fail = (err: AmberError) => {
      if (this.ended) return;
      this.ended = true;
      this.failure = err;
      settle?.reject(err);
      if (!started) onFailed(err);
      this.notify();
    };
    ws.onopen = () => ws.send(JSON.stringify({ type: 'start', ...start }));
    ws.onmessage = (ev) => {
      let frame: ServerFrame;
      try {
        frame = JSON.parse(String(ev.data)) as ServerFrame;
      } catch {
        fail(new AmberError('internal', 0, 'the exec stream sent a frame that is not JSON'));
        ws.close();
        return;
      }
      if (frame.type === 'started') {
        started = true;
        this.pid = frame.pid ?? 0;
        onStarted(this);
      } else if (frame.type === 'stdout' || frame.type === 'stderr') {
        if (!this.discard) this.queue.push({ stream: frame.type, data: fromBase64(frame.data ?? '') });
        this.notify();
      } else if (frame.type === 'exit') {
        this.ended = true;
        settle?.resolve({ exitCode: frame.exitCode ?? -1, signal: frame.signal ?? null });
        if (!started) onStarted(this);
        this.notify();
      } else if (frame.type === 'error') {
        const unreadable = 'the exec stream sent an error frame without a code and a message';
        fail(errorFromBody(frame) ?? new AmberError('internal', 0, unreadable));
      }
    };
    ws.onerror = () => {
      // The close event follows with the code; wait for it.
    };
    ws.onclose = (ev) => {
      fail(
        new AmberError(
          'unavailable',
          0,
          `the exec stream closed before the process exited (code ${ev.code}${ev.reason ? `: ${ev.reason}` : ''})`,
        ),
      );
    };
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private send(frame: Record<string, unknown>): void {
    if (this.ws.readyState === WS_OPEN && !this.ended) this.ws.send(JSON.stringify(frame));
  }

  /** Bytes handed to the socket but not yet sent: wait while it is high to stream large input. */
  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  sendStdin(data: string | Uint8Array): void {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    this.send({ type: 'stdin', data: toBase64(bytes) });
  }

  closeStdin(): void {
    this.send({ type: 'closeStdin' });
  }

  /** A terminal's new size (pty only). */
  resize(cols: number, rows: number): void {
    this.send({ type: 'resize', cols, rows });
  }

  signal(signal: 'SIGTERM' | 'SIGKILL'): void {
    this.send({ type: 'signal', signal });
  }

  /** Drops the connection; the process is left to the server (it ends it). */
  close(): void {
    this.ws.close(1000);
  }

  /**
   * The exit. Output not being iterated is dropped from then on, so waiting alone holds no output in memory.
   */
  wait(): Promise<ExecExit> {
    if (!this.iterating) {
      this.discard = true;
      this.queue.length = 0;
    }
    return this.exited;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ExecOutput> {
    this.iterating = true;
    for (;;) {
      const next = this.queue.shift();
      if (next) {
        yield next;
        continue;
      }
      if (this.failure) throw this.failure;
      if (this.ended) return;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }
}
