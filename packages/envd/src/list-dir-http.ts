import type { IncomingMessage, ServerResponse } from 'node:http';
import { Filesystem, ListDirRequestSchema } from '@amber/proto/filesystem';
import { fromBinary, fromJson, type JsonValue } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { codeToHttpStatus, codeToString } from '@connectrpc/connect/protocol-connect';
import { rpcUser } from './auth.js';
import type { EnvdContext } from './context.js';
import { listDirBinary, listDirJson } from './entry-encoding.js';
import { listRows } from './list-dir.js';
import { resolveRpcPath } from './rpc-path.js';
import { ownerNames } from './users.js';

export const LIST_DIR_PATH = `/${Filesystem.typeName}/ListDir`;
const MAX_REQUEST = 64 * 1024;
const UNARY = /^application\/(proto|json)\s*(;|$)/i;

/**
 * True for a Connect-protocol unary ListDir this module answers itself: uncompressed proto or JSON over
 * POST. Anything else (gRPC, gRPC-web, a compressed body, GET) goes through the Connect adapter.
 */
export function isPlainListDir(req: IncomingMessage): boolean {
  if (req.method !== 'POST' || req.url !== LIST_DIR_PATH) return false;
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding !== 'identity') return false;
  return UNARY.test(req.headers['content-type'] ?? '');
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    req.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > MAX_REQUEST) {
        req.destroy();
        reject(new ConnectError(`request is over ${MAX_REQUEST} bytes`, Code.ResourceExhausted));
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * ListDir outside the Connect adapter, for the listing a file browser makes: the same rows and errors
 * as the service, encoded by hand (entry-encoding.ts) instead of through protobuf-es messages.
 */
export async function listDirHttp(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: EnvdContext,
): Promise<void> {
  const json = /^application\/json/i.test(req.headers['content-type'] ?? '');
  try {
    const body = await readBody(req);
    let request: ReturnType<typeof fromBinary<typeof ListDirRequestSchema>>;
    try {
      request = json
        ? fromJson(ListDirRequestSchema, JSON.parse(body.length ? body.toString('utf8') : '{}') as JsonValue)
        : fromBinary(ListDirRequestSchema, body);
    } catch (err) {
      throw new ConnectError(`cannot decode the request: ${(err as Error).message}`, Code.InvalidArgument);
    }
    const headers = new Headers();
    const auth = req.headers.authorization;
    if (auth) headers.set('authorization', auth);
    const path = resolveRpcPath(ctx, rpcUser(ctx, headers), request.path);
    const rows = listRows(ctx, path, request.depth === 0 ? 1 : request.depth);
    const names = ownerNames(ctx.userFiles);
    const payload = json ? Buffer.from(listDirJson(rows, names)) : listDirBinary(rows, names);
    res.writeHead(200, {
      'content-type': json ? 'application/json' : 'application/proto',
      'content-length': payload.length,
    });
    res.end(payload);
  } catch (err) {
    const error =
      err instanceof ConnectError
        ? err
        : new ConnectError((err as Error).message ?? String(err), Code.Internal);
    const payload = JSON.stringify({ code: codeToString(error.code), message: error.rawMessage });
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(codeToHttpStatus(error.code), {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(payload),
    });
    res.end(payload);
  }
}
