import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { GuestBinding } from '@amber/native/guest';
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

/** Runs one request; `answered` resolves once its answer has been handed over to be written. */
export type ControlHandler = (request: ControlRequest, answered: Promise<void>) => Promise<void> | void;

export function isControlUpgrade(req: IncomingMessage): boolean {
  return req.url === '/control' && req.headers.upgrade?.toLowerCase() === CONTROL_PROTOCOL;
}

/**
 * Answers the upgrade, then serves requests on `socket` one at a time, in order, until it closes: in a thread
 * of the addon (`native.serveControl`), which answers a restore's clock init and a capture's sync itself and
 * hands every other request to `handle`. `setClock`: that init sets the guest's clock (not on a host running
 * envd in tests).
 */
export function serveControl(
  socket: Duplex,
  head: Buffer,
  handle: ControlHandler,
  native: Pick<GuestBinding, 'serveControl'>,
  setClock: boolean,
): void {
  const tcp = (socket as { _handle?: { fd?: number; readStop?: () => number; reading?: boolean } })._handle;
  if (typeof tcp?.fd !== 'number' || tcp.fd < 0 || !tcp.readStop) {
    socket.destroy(new Error('the control channel needs a TCP socket'));
    return;
  }
  const buffered = socket.readableLength > 0 ? (socket.read() as Buffer | null) : null;
  tcp.readStop();
  tcp.reading = false;
  native.serveControl(
    tcp.fd,
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${CONTROL_PROTOCOL}\r\nConnection: Upgrade\r\n\r\n`,
    buffered ? Buffer.concat([head, buffered]) : head,
    setClock,
    (line, send) => {
      if (line === null) {
        socket.destroy();
        return;
      }
      let written!: () => void;
      const answered = new Promise<void>((resolve) => {
        written = resolve;
      });
      void answer(line, handle, answered).then((text) => {
        send(text);
        written();
      });
    },
  );
}

/** The answer line to `line`. */
async function answer(line: string, handle: ControlHandler, answered: Promise<void>): Promise<string> {
  try {
    await handle(parseRequest(line), answered);
    return '{"ok":true}\n';
  } catch (err) {
    const code = err instanceof HttpError ? err.status : 500;
    const message = err instanceof Error ? err.message : String(err);
    return `${JSON.stringify({ ok: false, code, message })}\n`;
  }
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
