import { chmod, mkdir, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { connectInNetns } from '@amber/native';
import type { Logger } from 'pino';
import { AgentError } from '../errors.js';
import type { SandboxManager } from '../sandbox-manager.js';

/** The request line is `<sandboxId> <port>\n`; anything longer is not a request. */
const MAX_REQUEST_LINE = 256;
const REQUEST_TIMEOUT_MS = 10_000;

/** Where an agent with this home serves its tunnel. */
export function tunnelPath(home: string): string {
  return join(home, 'tunnel.sock');
}

export interface GuestTunnel {
  path: string;
  close(): Promise<void>;
}

export interface TunnelTarget {
  nsPath: string;
  host: string;
  port: number;
  /** Aborted when the VM goes (pause, destroy, crash). */
  gone: AbortSignal;
}

/** Resolves `<sandboxId> <port>` to where the bytes go; throws an AgentError a client can read. */
export function resolveTarget(manager: SandboxManager, line: string): TunnelTarget {
  const match = /^(\S+) (\d{1,5})$/.exec(line);
  if (!match) throw new AgentError('invalid_argument', 'expected "<sandboxId> <port>"');
  const port = Number(match[2]);
  if (port < 1 || port > 65535) throw new AgentError('invalid_argument', `port ${port} is out of range`);
  const runtime = manager.requireRunning(manager.get(match[1] as string));
  return { nsPath: runtime.slot.nsPath, host: runtime.slot.guestIp, port, gone: runtime.gone.signal };
}

function refuse(socket: Socket, err: unknown): void {
  const code = err instanceof AgentError ? err.code : 'internal';
  const message = (err as Error)?.message ?? String(err);
  socket.end(`${JSON.stringify({ error: { code, message } })}\n`);
}

/** Reads the request line; resolves with it and whatever bytes the client already sent after it. */
function readRequestLine(socket: Socket): Promise<{ line: string; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(
      () => done(new AgentError('deadline_exceeded', 'no request line')),
      REQUEST_TIMEOUT_MS,
    );
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const newline = buffered.indexOf(0x0a);
      if (newline >= 0) {
        done(undefined, {
          line: buffered.subarray(0, newline).toString('utf8'),
          rest: buffered.subarray(newline + 1),
        });
      } else if (buffered.length > MAX_REQUEST_LINE) {
        done(new AgentError('invalid_argument', 'request line too long'));
      }
    };
    const onEnd = () => done(new AgentError('invalid_argument', 'closed before the request line'));
    const done = (err?: Error, value?: { line: string; rest: Buffer }) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onEnd);
      socket.pause();
      if (err) reject(err);
      else if (value) resolve(value);
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onEnd);
  });
}

/**
 * A unix socket (mode 0600, so only the agent's user) that pipes raw bytes to a port of a running guest,
 * from inside the sandbox's network namespace. The control plane reaches envd's Filesystem and Process
 * services through it (streams, PTYs, HTTP upgrades) without the agent re-implementing each call.
 */
export async function startGuestTunnel(
  manager: SandboxManager,
  path: string,
  log: Logger,
): Promise<GuestTunnel> {
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    open.add(client);
    client.once('close', () => open.delete(client));
    void handle(client);
  });
  async function handle(client: Socket): Promise<void> {
    let request: { line: string; rest: Buffer };
    try {
      request = await readRequestLine(client);
    } catch (err) {
      refuse(client, err);
      return;
    }
    let target: TunnelTarget;
    try {
      target = resolveTarget(manager, request.line);
    } catch (err) {
      refuse(client, err);
      return;
    }
    const upstream = connectInNetns(target.nsPath, target.host, target.port);
    let connected = false;
    open.add(upstream);
    upstream.once('close', () => open.delete(upstream));
    upstream.once('connect', () => {
      connected = true;
      // Requests and stream frames are small writes: with Nagle's algorithm on, a kept connection's next
      // write waits for the guest's delayed ACK (tens of ms); a fresh connection hid it (quick ACKs).
      upstream.setNoDelay(true);
      client.write('ok\n');
      if (request.rest.length > 0) upstream.write(request.rest);
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
    upstream.once('error', (err) => {
      if (!connected) {
        refuse(client, new AgentError('unavailable', `guest port ${target.port}: ${err.message}`));
      } else {
        log.debug({ err, line: request.line }, 'tunnel upstream error');
        client.destroy();
      }
    });
    client.once('error', () => upstream.destroy());
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
    // Nothing would ever arrive again: the guest's end of the TCP connection went with its VM.
    const hangUp = () => upstream.destroy();
    if (target.gone.aborted) hangUp();
    else target.gone.addEventListener('abort', hangUp, { once: true });
    upstream.once('close', () => target.gone.removeEventListener('abort', hangUp));
  }
  await mkdir(dirname(path), { recursive: true });
  await rm(path, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, resolve);
  });
  await chmod(path, 0o600);
  return {
    path,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of open) socket.destroy();
      }),
  };
}
