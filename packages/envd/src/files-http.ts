import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chown, mkdir, rename, rm, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import { HttpError, sendJson } from './http-error.js';
import { type GuestUser, lookupUser } from './users.js';

export interface FilesOptions {
  /** User for relative paths and file ownership when the request names none. */
  defaultUser: string;
  passwdPath?: string;
}

function requestUser(url: URL, options: FilesOptions): GuestUser {
  const name = url.searchParams.get('username') || options.defaultUser;
  const user = lookupUser(name, options.passwdPath);
  if (!user) throw new HttpError(401, `invalid user: ${name}`);
  return user;
}

function resolvePath(path: string | null, user: GuestUser): string {
  if (!path) throw new HttpError(400, 'the path query parameter is required');
  if (path.includes('\0')) throw new HttpError(400, 'path contains a NUL byte');
  const expanded = path === '~' ? user.home : path.startsWith('~/') ? join(user.home, path.slice(2)) : path;
  return isAbsolute(expanded) ? resolve(expanded) : resolve(user.home, expanded);
}

export async function downloadFile(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  options: FilesOptions,
): Promise<void> {
  const path = resolvePath(url.searchParams.get('path'), requestUser(url, options));
  const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new HttpError(404, `file not found: ${path}`);
    throw err;
  });
  if (info.isDirectory()) throw new HttpError(400, `path is a directory: ${path}`);
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': info.size,
    'content-disposition': `attachment; filename="${encodeURIComponent(basename(path))}"`,
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  await pipeline(createReadStream(path), res);
}

/**
 * Streams one upload to a temp file beside the target and renames it into place, so a failed or cut
 * upload never leaves a truncated file behind.
 */
async function writeStream(source: Readable, path: string, user: GuestUser): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const info = await stat(path).catch(() => undefined);
  if (info?.isDirectory()) throw new HttpError(400, `path is a directory: ${path}`);
  const tmp = join(dirname(path), `.${basename(path)}.upload-${randomBytes(4).toString('hex')}`);
  try {
    await pipeline(source, createWriteStream(tmp, { mode: 0o644 }));
    if (user.uid !== process.getuid?.()) await chown(tmp, user.uid, user.gid);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    if ((err as NodeJS.ErrnoException).code === 'ENOSPC')
      throw new HttpError(507, `not enough disk space for ${path}`);
    throw err;
  }
}

function entry(path: string) {
  return { path, name: basename(path), type: 'file' };
}

/** Accepts a raw body (application/octet-stream) or multipart/form-data as E2B's SDKs send. */
export async function uploadFile(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  options: FilesOptions,
): Promise<void> {
  const user = requestUser(url, options);
  const target = url.searchParams.get('path');
  const contentType = req.headers['content-type'] ?? '';
  if (!contentType.startsWith('multipart/form-data')) {
    const path = resolvePath(target, user);
    await writeStream(req, path, user);
    sendJson(res, 200, [entry(path)]);
    return;
  }
  const written: string[] = [];
  const uploads: Promise<void>[] = [];
  await new Promise<void>((done, fail) => {
    const parser = busboy({ headers: req.headers });
    parser.on('file', (_field, stream, info) => {
      const path = resolvePath(target ?? info.filename ?? null, user);
      written.push(path);
      const upload = writeStream(stream, path, user);
      // Drain the part if writing failed early, or busboy stalls; the error itself surfaces below.
      upload.catch(() => stream.resume());
      uploads.push(upload);
    });
    parser.on('close', done);
    parser.on('error', (err) =>
      fail(new HttpError(400, `malformed multipart body: ${(err as Error).message}`)),
    );
    req.pipe(parser);
  });
  await Promise.all(uploads);
  if (written.length === 0) throw new HttpError(400, 'the multipart body holds no file');
  sendJson(res, 200, written.map(entry));
}
