import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { HttpError } from './http-error.js';

/**
 * Amber's control channel: `GET /control` with `Upgrade: amber-control` turns a connection to envd into
 * lines of JSON, one request `{"op", "token"?, ...}` and one answer `{"ok": true}` or
 * `{"ok": false, "code", "message"}` each. The host keeps one open across a snapshot and sends a restore's
 * `init` on it: on an emulated CPU every line of code a restored guest runs is translated anew, and Node's
 * HTTP server and response around `/init` were ~50 of the guest's ~75 ms to its first answer.
 */
export const CONTROL_PROTOCOL = 'amber-control';

export interface ControlRequest {
  op: string;
  /** The access token, as `X-Access-Token` carries it on HTTP; checked per request. */
  token?: string;
  [field: string]: unknown;
}

/** Runs one request; `answered` resolves once its answer has been written. */
export type ControlHandler = (request: ControlRequest, answered: Promise<void>) => Promise<void> | void;

export function isControlUpgrade(req: IncomingMessage): boolean {
  return req.url === '/control' && req.headers.upgrade?.toLowerCase() === CONTROL_PROTOCOL;
}

/** Answers the upgrade, then serves requests on `socket` one at a time, in order, until it closes. */
export function serveControl(socket: Duplex, head: Buffer, handle: ControlHandler): void {
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${CONTROL_PROTOCOL}\r\nConnection: Upgrade\r\n\r\n`,
  );
  let pending = head;
  let queue = Promise.resolve();
  const take = () => {
    for (let end = pending.indexOf(10); end >= 0; end = pending.indexOf(10)) {
      const line = pending.subarray(0, end).toString('utf8');
      pending = pending.subarray(end + 1);
      queue = queue.then(() => answer(socket, line, handle));
    }
  };
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    take();
  });
  // The HTTP server's sockets allow half-open connections: without this, every channel the host closed
  // would stay open here.
  socket.on('end', () => socket.end());
  // A reset or a close ends the channel; nothing is waiting on it but the host, which sees the close.
  socket.on('error', () => socket.destroy());
  take();
}

async function answer(socket: Duplex, line: string, handle: ControlHandler): Promise<void> {
  let written!: () => void;
  const answered = new Promise<void>((resolve) => {
    written = resolve;
  });
  let reply: string;
  try {
    const request = parseRequest(line);
    await handle(request, answered);
    reply = '{"ok":true}\n';
  } catch (err) {
    const code = err instanceof HttpError ? err.status : 500;
    const message = err instanceof Error ? err.message : String(err);
    reply = `${JSON.stringify({ ok: false, code, message })}\n`;
  }
  if (socket.writable) socket.write(reply, () => written());
}

function parseRequest(line: string): ControlRequest {
  let request: unknown;
  try {
    request = JSON.parse(line);
  } catch {
    throw new HttpError(400, 'the request is not valid JSON');
  }
  if (typeof request !== 'object' || request === null || Array.isArray(request))
    throw new HttpError(400, 'the request must be a JSON object');
  const { op, token } = request as ControlRequest;
  if (typeof op !== 'string') throw new HttpError(400, 'op must be a string');
  if (token !== undefined && typeof token !== 'string') throw new HttpError(400, 'token must be a string');
  return request as ControlRequest;
}
