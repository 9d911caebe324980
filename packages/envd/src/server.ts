import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Process } from '@amber/proto/process';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { ClockSetter } from './clock.js';
import { ClockGate } from './clock-gate.js';
import { downloadFile, uploadFile } from './files-http.js';
import { GuestShell } from './guest-shell.js';
import { HttpError, sendError } from './http-error.js';
import { init } from './init-http.js';
import { processService } from './process-service.js';
import { ProcessTable } from './process-table.js';
import { lookupUser } from './users.js';

export const ENVD_PORT = 49983;

export interface EnvdOptions {
  defaultUser?: string;
  allowSetClock?: boolean;
  passwdPath?: string;
}

/** envd: E2B's guest agent protocol — Connect RPC services plus a few plain HTTP routes — on one port. */
export function createEnvdServer(options: EnvdOptions = {}): Server {
  const defaultUser = options.defaultUser ?? 'user';
  const env: Record<string, string> = {};
  const table = new ProcessTable(() => lookupUser(defaultUser, options.passwdPath)?.home ?? '/', env);
  const files = { defaultUser, ...(options.passwdPath && { passwdPath: options.passwdPath }) };
  const shell = new GuestShell();
  const clock = new ClockGate();
  const setter = new ClockSetter();
  if (options.allowSetClock) setter.start();

  const routes = async (req: IncomingMessage, res: ServerResponse) => {
    // The path alone routes; only /files parses the query. A URL parse is ~200 translation blocks of a
    // restored guest's first answer (/init), which readiness waits for.
    const raw = req.url ?? '/';
    const query = raw.indexOf('?');
    const pathname = query < 0 ? raw : raw.slice(0, query);
    try {
      if (pathname === '/health' && req.method === 'GET') {
        res.writeHead(204);
        res.end();
      } else if (pathname === '/files' && (req.method === 'GET' || req.method === 'HEAD')) {
        await downloadFile(req, res, new URL(raw, 'http://envd'), files);
      } else if (pathname === '/files' && req.method === 'POST') {
        await clock.settled();
        await uploadFile(req, res, new URL(raw, 'http://envd'), files);
      } else if (pathname === '/init' && req.method === 'POST') {
        await init(req, res, { allowSetClock: options.allowSetClock ?? false, env, setter, clock });
      } else if (pathname === '/sync' && req.method === 'POST') {
        // Amber's own route: flush the guest's filesystems before a snapshot.
        await shell.run('sync');
        res.writeHead(204);
        res.end();
      } else {
        throw new HttpError(404, `no route for ${req.method} ${pathname}`);
      }
    } catch (err) {
      sendError(res, err);
    }
  };

  const handler = connectNodeAdapter({
    routes: (router) => router.service(Process, processService(table, clock)),
    fallback: (req, res) => void routes(req as IncomingMessage, res as ServerResponse),
  });
  // Only the Connect service's paths go through the adapter: after a restore, every line of code a request
  // runs is translated afresh by an emulating hypervisor, and the first call (the host's /init) is what
  // readiness waits for.
  const rpcPrefix = `/${Process.typeName}/`;
  const server = createServer((req, res) => {
    if (req.url?.startsWith(rpcPrefix)) handler(req, res);
    else void routes(req, res);
  });
  server.on('close', () => {
    shell.close();
    setter.close();
  });
  // Streams of long-running commands stay open; keepalives travel inside them.
  server.requestTimeout = 0;
  server.keepAliveTimeout = 65_000;
  return server;
}
