import { connect, type Socket } from 'node:net';
import { ApiError, type ApiErrorCode, STATUS } from '../errors.js';

const MAX_REPLY_LINE = 4096;

/** The agent's refusal, as the API's error (the agent uses the same code names where they overlap). */
function refusal(line: string): ApiError {
  try {
    const parsed = JSON.parse(line) as { error?: { code?: string; message?: string } };
    const agentCode = parsed.error?.code ?? 'internal';
    const code: ApiErrorCode =
      agentCode === 'failed_precondition'
        ? 'invalid_state'
        : agentCode in STATUS
          ? (agentCode as ApiErrorCode)
          : 'internal';
    return new ApiError(code, parsed.error?.message ?? line);
  } catch {
    return new ApiError('internal', `unexpected tunnel reply: ${line.slice(0, 200)}`);
  }
}

/**
 * A byte stream to `port` of a running guest through the host agent's tunnel socket: one request line,
 * one reply line, then the socket is the guest's.
 */
export function openTunnel(tunnelPath: string, sandboxId: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(tunnelPath);
    let buffered = Buffer.alloc(0);
    const fail = (err: Error) => {
      cleanup();
      socket.destroy();
      reject(
        err instanceof ApiError
          ? err
          : new ApiError('unavailable', `guest tunnel: ${err.message}`, { cause: err }),
      );
    };
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const newline = buffered.indexOf(0x0a);
      if (newline < 0) {
        if (buffered.length > MAX_REPLY_LINE) fail(new Error('reply line too long'));
        return;
      }
      const line = buffered.subarray(0, newline).toString('utf8');
      const rest = buffered.subarray(newline + 1);
      if (line !== 'ok') {
        fail(refusal(line));
        return;
      }
      cleanup();
      socket.pause();
      if (rest.length > 0) socket.unshift(rest);
      resolve(socket);
    };
    const onEnd = () => fail(new Error('closed before its reply'));
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', fail);
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', fail);
    socket.once('connect', () => socket.write(`${sandboxId} ${port}\n`));
  });
}

/**
 * For `http.request({ createConnection })` and Connect's Node transport: the socket arrives through the
 * callback once the tunnel has answered.
 */
export function tunnelConnector(tunnelPath: string, sandboxId: string, port: number) {
  return (_options: unknown, callback: (err: Error | null, socket?: Socket) => void): undefined => {
    openTunnel(tunnelPath, sandboxId, port).then(
      (socket) => {
        callback(null, socket);
        socket.resume();
      },
      (err: Error) => callback(err),
    );
    return undefined;
  };
}
