import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, chown, lstat, readlink, realpath, rename, rm, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { basename, dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import busboy from 'busboy';
import type { EnvdContext } from './context.js';
import { ensureDirs } from './ensure-dirs.js';
import { METADATA_XATTR_PREFIX } from './entry-info.js';
import { HttpError, sendJson } from './http-error.js';
import { metadataFromHeaders } from './metadata.js';
import { PathError, resolveUserPath } from './paths.js';
import { type GuestUser, lookupUser } from './users.js';

function requestUser(url: URL, ctx: EnvdContext): GuestUser {
  const name = url.searchParams.get('username') || ctx.defaultUser;
  const user = lookupUser(name, ctx.userFiles);
  if (!user) throw new HttpError(401, `error looking up user '${name}': unknown user`);
  return user;
}

function resolvePath(path: string | null, user: GuestUser, ctx: EnvdContext): string {
  if (!path) throw new HttpError(400, 'the path query parameter is required');
  try {
    return resolveUserPath(path, user, ctx.defaultWorkdir);
  } catch (err) {
    if (err instanceof PathError) throw new HttpError(400, err.message);
    throw err;
  }
}

function httpFsError(err: unknown, path: string): unknown {
  if (err instanceof HttpError) return err;
  switch ((err as NodeJS.ErrnoException).code) {
    case 'ENOENT':
      return new HttpError(404, `path '${path}' does not exist`);
    case 'ENOTDIR':
      return new HttpError(400, `a parent of '${path}' is not a directory`);
    case 'EISDIR':
      return new HttpError(400, `path '${path}' is a directory`);
    case 'EACCES':
    case 'EPERM':
      return new HttpError(403, `permission denied for '${path}'`);
    case 'ENOSPC':
    case 'EDQUOT':
      return new HttpError(507, 'not enough disk space available');
    default:
      return err;
  }
}

/** GET /files: streamed; gzip when the client accepts it (E2B's SDK sends Accept-Encoding: gzip). */
export async function downloadFile(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  ctx: EnvdContext,
): Promise<void> {
  const path = resolvePath(url.searchParams.get('path'), requestUser(url, ctx), ctx);
  const info = await stat(path).catch((err) => {
    throw httpFsError(err, path);
  });
  if (info.isDirectory()) throw new HttpError(400, `path '${path}' is a directory`);
  const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-disposition': `attachment; filename*=UTF-8''${encodeURIComponent(basename(path))}`,
    ...(gzip ? { 'content-encoding': 'gzip', vary: 'Accept-Encoding' } : { 'content-length': info.size }),
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  if (gzip) await pipeline(createReadStream(path), createGzip({ level: 1 }), res);
  else await pipeline(createReadStream(path), res);
}

interface Written {
  path: string;
  name: string;
  type: 'file';
  metadata?: Record<string, string>;
}

/**
 * The file an upload to `path` writes: E2B's envd opens the path, so a symlink is written through (also
 * one whose target does not exist yet), never replaced.
 */
async function uploadTarget(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const link = await lstat(path).catch(() => undefined);
  return link?.isSymbolicLink() ? resolve(dirname(path), await readlink(path)) : path;
}

/**
 * Streams one upload to a temp file beside the target and renames it into place, so a failed or cut
 * upload never leaves a truncated file behind, and nobody reads a half-written one. Memory stays bounded:
 * the stream is piped, never held. As with E2B's in-place write, an existing file keeps its mode (a script
 * stays executable) and goes to the writing user.
 */
async function writeStream(
  source: Readable,
  path: string,
  user: GuestUser,
  ctx: EnvdContext,
  metadata: Record<string, string>,
): Promise<Written> {
  let tmp: string | undefined;
  try {
    ensureDirs(dirname(path), user);
    const target = await uploadTarget(path);
    const info = await stat(target).catch(() => undefined);
    if (info?.isDirectory()) throw new HttpError(400, `path '${path}' is a directory`);
    tmp = join(dirname(target), `.${basename(target)}.upload-${randomBytes(4).toString('hex')}`);
    await pipeline(source, createWriteStream(tmp, { mode: 0o644 }));
    if (info) await chmod(tmp, info.mode & 0o7777);
    if (user.uid !== process.getuid?.()) await chown(tmp, user.uid, user.gid);
    for (const [key, value] of Object.entries(metadata)) {
      try {
        ctx.native().setXattr(tmp, METADATA_XATTR_PREFIX + key, value);
      } catch (err) {
        if (
          (err as NodeJS.ErrnoException).code === 'ENOTSUP' ||
          (err as NodeJS.ErrnoException).code === 'EOPNOTSUPP'
        )
          throw new HttpError(400, `the filesystem holding '${path}' does not keep file metadata`);
        throw err;
      }
    }
    await rename(tmp, target);
  } catch (err) {
    source.resume();
    if (tmp) await rm(tmp, { force: true });
    throw httpFsError(err, path);
  }
  return {
    path,
    name: basename(path),
    type: 'file',
    ...(Object.keys(metadata).length > 0 && { metadata }),
  };
}

function decoded(req: IncomingMessage): Readable {
  const encoding = String(req.headers['content-encoding'] ?? 'identity').toLowerCase();
  if (encoding === 'identity') return req;
  if (encoding === 'gzip') return req.pipe(createGunzip());
  throw new HttpError(415, `unsupported Content-Encoding ${JSON.stringify(encoding)}: identity or gzip`);
}

/**
 * POST /files: a raw body (application/octet-stream, `path` required) or multipart/form-data with any
 * number of file parts (each part's filename is its path when the query names none), either optionally
 * gzip-encoded. Parents are created and everything is owned by the calling user.
 */
export async function uploadFile(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  ctx: EnvdContext,
): Promise<void> {
  const user = requestUser(url, ctx);
  const metadata = metadataFromHeaders(req.headers);
  const target = url.searchParams.get('path');
  const contentType = req.headers['content-type'] ?? '';
  const body = decoded(req);
  if (!contentType.startsWith('multipart/form-data')) {
    const path = resolvePath(target, user, ctx);
    sendJson(res, 200, [await writeStream(body, path, user, ctx, metadata)]);
    return;
  }
  const uploads: Promise<Written>[] = [];
  await new Promise<void>((done, fail) => {
    let parser: busboy.Busboy;
    try {
      // preservePath: E2B's SDK puts each file's full path in its part's filename.
      parser = busboy({ headers: { ...req.headers, 'content-type': contentType }, preservePath: true });
    } catch (err) {
      fail(new HttpError(400, `malformed multipart request: ${(err as Error).message}`));
      return;
    }
    parser.on('file', (_field, stream, info) => {
      let path: string;
      try {
        path = resolvePath(target || info.filename || null, user, ctx);
      } catch (err) {
        stream.resume();
        uploads.push(Promise.reject(err));
        return;
      }
      uploads.push(writeStream(stream, path, user, ctx, metadata));
    });
    parser.on('close', done);
    parser.on('error', (err) =>
      fail(new HttpError(400, `malformed multipart body: ${(err as Error).message}`)),
    );
    body.on('error', (err) => fail(new HttpError(400, `cannot read the body: ${err.message}`)));
    body.pipe(parser);
  });
  const settled = await Promise.allSettled(uploads);
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  if (uploads.length === 0) throw new HttpError(400, 'the multipart body holds no file part');
  sendJson(
    res,
    200,
    settled.map((s) => (s as PromiseFulfilledResult<Written>).value),
  );
}
