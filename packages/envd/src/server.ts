import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { Filesystem } from '@amber/proto/filesystem';
import { Process } from '@amber/proto/process';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { tokenMatches } from './auth.js';
import { ClockGate } from './clock-gate.js';
import { EnvdContext } from './context.js';
import { type ControlHandler, isControlUpgrade, serveControl } from './control-channel.js';
import { downloadFile, uploadFile } from './files-http.js';
import { filesystemService } from './filesystem-service.js';
import { GuestShell } from './guest-shell.js';
import { HttpError, sendError, sendJson } from './http-error.js';
import { applyInit, init } from './init-http.js';
import { isPlainListDir, listDirHttp } from './list-dir-http.js';
import { MetricsSampler } from './metrics.js';
import { processService } from './process-service.js';
import { ProcessTable } from './process-table.js';
import type { UserFiles } from './users.js';
import { WatchService } from './watch-service.js';

export const ENVD_PORT = 49983;
/** The envd version E2B's SDKs see (they gate features such as metadata and octet-stream uploads on it). */
export const ENVD_VERSION = '0.6.2';

export interface EnvdOptions extends UserFiles {
  /** The user for requests that name none, until /init sets another (E2B: `user`). */
  defaultUser?: string;
  allowSetClock?: boolean;
  /** amber_guest.node: /opt/amber in the guest, this repository's native build in tests. */
  addonPath: string;
}

/** envd: E2B's guest agent protocol — Connect RPC services plus a few plain HTTP routes — on one port. */
export function createEnvdServer(options: EnvdOptions): Server {
  const ctx = new EnvdContext({
    defaultUser: options.defaultUser ?? 'user',
    addonPath: options.addonPath,
    userFiles: {
      ...(options.passwdPath && { passwdPath: options.passwdPath }),
      ...(options.groupPath && { groupPath: options.groupPath }),
    },
  });
  const table = new ProcessTable(ctx);
  const watches = new WatchService(ctx);
  const shell = new GuestShell();
  const metrics = new MetricsSampler();
  // Loaded at start in the guest, so no restore pays for loading it.
  const native = options.allowSetClock ? ctx.native() : undefined;
  const setClock = native && ((epochUs: number) => native.setRealtimeClock(epochUs));
  const clock = new ClockGate(native && (() => native.clockPending()));

  const routes = async (req: IncomingMessage, res: ServerResponse) => {
    // The path alone routes; only /files parses the query. A URL parse is ~200 translation blocks of a
    // restored guest's first answer (/init), which readiness waits for.
    const raw = req.url ?? '/';
    const query = raw.indexOf('?');
    const pathname = query < 0 ? raw : raw.slice(0, query);
    try {
      if (pathname === '/init' && req.method === 'POST') {
        const authorized = tokenMatches(ctx, req.headers['x-access-token']);
        await init(req, res, { ctx, authorized, setClock, clock });
      } else if (pathname === '/health' && req.method === 'GET') {
        res.writeHead(204);
        res.end();
      } else if (!tokenMatches(ctx, req.headers['x-access-token'])) {
        req.resume();
        throw new HttpError(401, 'missing or invalid access token (X-Access-Token)');
      } else if (pathname === '/files' && (req.method === 'GET' || req.method === 'HEAD')) {
        await downloadFile(req, res, new URL(raw, 'http://envd'), ctx);
      } else if (pathname === '/files' && req.method === 'POST') {
        await clock.settled();
        await uploadFile(req, res, new URL(raw, 'http://envd'), ctx);
      } else if (pathname === '/envs' && req.method === 'GET') {
        sendJson(res, 200, ctx.env);
      } else if (pathname === '/metrics' && req.method === 'GET') {
        sendJson(res, 200, metrics.read());
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
    routes: (router) => {
      router.service(Process, processService(ctx, table, clock));
      router.service(Filesystem, filesystemService(ctx, watches));
    },
    fallback: (req, res) => void routes(req as IncomingMessage, res as ServerResponse),
  });
  // Only the Connect services' paths go through the adapter: after a restore, every line of code a request
  // runs is translated afresh by an emulating hypervisor, and the first call (the host's /init) is what
  // readiness waits for.
  const rpcPrefixes = [`/${Process.typeName}/`, `/${Filesystem.typeName}/`];
  const server = createServer((req, res) => {
    const url = req.url ?? '';
    // Node's Date header is cached until the second ends and reset by a timer, which, armed shortly before
    // a snapshot, fires in every guest restored from it; so envd writes Date itself. Not on /init: the clock
    // is what it sets (stale after a restore), and formatting a date is cold code before a restored guest
    // can answer.
    res.sendDate = false;
    if (!url.startsWith('/init')) res.setHeader('date', new Date().toUTCString());
    if (!rpcPrefixes.some((prefix) => url.startsWith(prefix))) void routes(req, res);
    else if (tokenMatches(ctx, req.headers['x-access-token'])) {
      if (isPlainListDir(req)) void listDirHttp(req, res, ctx);
      else handler(req, res);
    } else {
      req.resume();
      // Connect's JSON error shape, so RPC clients raise `unauthenticated`.
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          code: 'unauthenticated',
          message: 'missing or invalid access token (X-Access-Token)',
        }),
      );
    }
  });
  const control: ControlHandler = async ({ op, token, ...body }, answered) => {
    const authorized = tokenMatches(ctx, token);
    if (op === 'init') applyInit(body, answered, { ctx, authorized, setClock, clock });
    else if (op !== 'sync') throw new HttpError(400, `unknown op: ${op}`);
    else if (!authorized) throw new HttpError(401, 'missing or invalid access token');
    else await shell.run('sync');
  };
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (isControlUpgrade(req)) serveControl(socket, head, control, ctx.native(), setClock !== undefined);
    else socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });
  server.on('close', () => {
    shell.close();
    watches.close();
  });
  // Streams of long-running commands stay open; keepalives travel inside them.
  server.requestTimeout = 0;
  server.keepAliveTimeout = 65_000;
  return server;
}
