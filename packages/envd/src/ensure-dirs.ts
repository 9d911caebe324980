import { chownSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { GuestUser } from './users.js';

/** Creates `path` and any missing parents, each owned by `user` (only the ones it creates). */
export function ensureDirs(path: string, user: GuestUser): void {
  const missing: string[] = [];
  for (let p = path; ; p = dirname(p)) {
    const info = statSync(p, { throwIfNoEntry: false });
    if (info) {
      if (!info.isDirectory()) {
        const err = new Error(`${p} is not a directory`) as NodeJS.ErrnoException;
        err.code = 'ENOTDIR';
        throw err;
      }
      break;
    }
    missing.push(p);
    if (p === '/') break;
  }
  const ownerChange = user.uid !== process.getuid?.() || user.gid !== process.getgid?.();
  for (const dir of missing.reverse()) {
    mkdirSync(dir, { mode: 0o755 });
    if (ownerChange) chownSync(dir, user.uid, user.gid);
  }
}
